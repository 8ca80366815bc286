import Foundation
import Queue
import Support
import TestSupport
import XCTest

/// The console in a real browser (Debian's chromium, headless, over DevTools): sign in with a
/// token, open the jobs page filtered to discarded jobs, retry one by clicking its button, and
/// see it leave the list, with no JavaScript of the console's involved.
final class ConsoleBrowserTests: XCTestCase {
    func testSigningInAndRetryingADiscardedJobByClicking() async throws {
        let h = try ConsoleHarness()
        let token = try h.createOperator("alice")
        let target = try h.job(state: .discarded)
        let other = try h.job(state: .discarded)
        let base = "http://127.0.0.1:\(h.port)"

        let browser = try Browser()
        func text(_ js: String) -> String { (try? browser.evaluate(js))?.string ?? "" }
        try browser.navigate(base + "/jobs?state=discarded")
        try await waitUntil("the sign-in page is shown") { text("document.title").hasPrefix("Sign in") }
        _ = try browser.evaluate("""
            document.querySelector('#token').value = \(JSON.quoted(token));
            document.querySelector('form.signin button').click(); true
            """)
        try await waitUntil("signed in, back on the discarded jobs") {
            text("document.title").hasPrefix("Jobs") && text("location.search") == "?state=discarded"
        }
        let retryButton = "document.querySelector('form[action=\"/jobs/\(target)/retry\"] button')"
        XCTAssertEqual(try browser.evaluate("\(retryButton) !== null"), true)
        _ = try browser.evaluate("\(retryButton).click(); true")
        try await waitUntil("the retried job left the list") {
            text("location.search").contains("notice=") && text("String(\(retryButton) === null)") == "true"
        }
        XCTAssertTrue(text("document.body.innerText").contains("Job \(target) will run again now."))
        XCTAssertEqual(try browser.evaluate("document.querySelector('form[action=\"/jobs/\(other)/retry\"]') !== null"), true,
                       "the other discarded job is still listed")
        XCTAssertEqual(try h.state(target), "available")
        XCTAssertEqual(try h.audit().first.map { [$0.actor, $0.action] }, ["alice", "jobs.retry"])
    }

    /// Where JavaScript runs, the overview's counts follow the console's event stream: a job
    /// enqueued after the page loaded shows up in its queue's count without a reload.
    func testTheOverviewCountsRefreshByThemselves() async throws {
        let h = try ConsoleHarness()
        let token = try h.createOperator("alice")
        _ = try h.job(queue: "default", state: .available)
        let browser = try Browser()
        func text(_ js: String) -> String { (try? browser.evaluate(js))?.string ?? "" }
        try browser.navigate("http://127.0.0.1:\(h.port)/sign-in")
        try await waitUntil("the sign-in page is shown") { text("document.title").hasPrefix("Sign in") }
        _ = try browser.evaluate("document.querySelector('#token').value = \(JSON.quoted(token)); document.querySelector('form.signin button').click(); true")
        try await waitUntil("the overview is shown") { text("document.title").hasPrefix("Overview") }
        let cell = "document.querySelector('[data-live=\"default:available\"]').textContent"
        XCTAssertEqual(text(cell), "1")
        let loadedAt = text("String(performance.timeOrigin)")
        try await waitUntil("a first event arrived") { !text("document.documentElement.dataset.liveAt || ''").isEmpty }
        _ = try h.job(queue: "default", state: .available)
        _ = try h.job(queue: "default", state: .available)
        try await waitUntil("the count followed", timeout: 20) { text(cell) == "3" }
        XCTAssertEqual(text("String(performance.timeOrigin)"), loadedAt, "the same page: no reload")
    }
}
