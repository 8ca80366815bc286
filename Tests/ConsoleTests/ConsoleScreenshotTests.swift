import Foundation
import Support
import TestSupport
import XCTest

/// The screenshots in docs/console (README, "The operator console"): the overview, the jobs
/// list and one job, taken in headless chromium with sample data. `ops/screenshots` runs this
/// with TALLY_SCREENSHOTS_DIR=docs/console; otherwise they go to a temporary folder and the
/// test checks only that each page rendered to a PNG.
final class ConsoleScreenshotTests: XCTestCase {
    func testScreenshotsOfTheOverviewTheJobsAndOneJob() async throws {
        let h = try ConsoleHarness()
        try ConsoleSampleData.load(h.db)
        for (user, credits) in [("user-1", "1000"), ("user-2", "250"), ("user-7", "40")] {
            let grant = try TallyRun.run(["grant", user, credits, "--reason", "welcome", "--actor", "support"], environment: ["DATABASE_URL": h.db.url])
            XCTAssertEqual(grant.status, 0, grant.stderr)
        }
        let token = try h.createOperator("alice")
        let discarded = try XCTUnwrap(try h.db.scalar("SELECT max(id) FROM jobs WHERE state = 'discarded'"))
        let folder = ProcessInfo.processInfo.environment["TALLY_SCREENSHOTS_DIR"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("tally-screens-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { if ProcessInfo.processInfo.environment["TALLY_SCREENSHOTS_DIR"] == nil { try? FileManager.default.removeItem(at: folder) } }

        let base = "http://127.0.0.1:\(h.port)"
        let browser = try Browser()
        try browser.setViewport(width: 1280, height: 860)
        func text(_ js: String) -> String { (try? browser.evaluate(js))?.string ?? "" }
        try browser.navigate(base + "/sign-in")
        try await waitUntil("the sign-in page is shown") { text("document.title").hasPrefix("Sign in") }
        _ = try browser.evaluate("document.querySelector('#token').value = \(JSON.quoted(token)); document.querySelector('form.signin button').click(); true")
        try await waitUntil("signed in") { text("document.title").hasPrefix("Overview") }

        // The jobs list as one screen of it (it pages by 50); the others whole.
        for (name, path, title, whole) in [("overview", "/", "Overview", true), ("jobs", "/jobs", "Jobs", false), ("job", "/jobs/\(discarded)", "Job ", true)] {
            try browser.navigate(base + path)
            try await waitUntil("\(path) has loaded") { text("document.title").hasPrefix(title) && text("document.readyState") == "complete" }
            let png = try browser.screenshot(fullPage: whole)
            XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "\(name) is a PNG")
            XCTAssertGreaterThan(png.count, 10_000, "\(name) shows a rendered page")
            try png.write(to: folder.appendingPathComponent("\(name).png"))
        }
    }
}
