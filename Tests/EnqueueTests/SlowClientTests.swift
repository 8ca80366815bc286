import Dispatch
import Enqueue
import Foundation
import Support
import TestSupport
import XCTest

/// Slow and silent clients are dropped without holding up anyone else. The timeouts are set
/// short through the environment (TALLY_REQUEST_TIMEOUT, TALLY_IDLE_TIMEOUT) to keep this fast.
final class SlowClientTests: XCTestCase {
    func testOneByteASecondIsDroppedAndDoesNotDelayOthers() async throws {
        let h = try IngressHarness(environment: ["TALLY_REQUEST_TIMEOUT": "2s", "TALLY_INGRESS_THREADS": "1"])
        let slow = try h.client(timeout: 15)
        let request = Array("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Padding: \(String(repeating: "p", count: 40))\r\n\r\n".utf8)
        let started = Date()
        // The slow client: one byte a second, until the server answers or drops it, on one
        // event loop shared with the fast clients below.
        let slowResult = Task { try await RawHTTPClient.run { () -> (closed: Bool, sent: Int, answered: Bool) in
            var sent = 0
            for byte in request {
                do { try slow.send([byte]) } catch { break }
                sent += 1
                if slow.waitForReadable(seconds: 1) { break }
                if Date().timeIntervalSince(started) > 12 { break }
            }
            slow.setTimeout(5)
            let answered = (try? slow.readResponse()) != nil
            return (slow.waitForClose() || !answered, sent, answered)
        } }
        // Meanwhile others are answered at once, on new and kept-alive connections.
        var worst: TimeInterval = 0
        let keep = try h.client()
        while Date().timeIntervalSince(started) < 3 {
            let t0 = Date()
            let r = try await RawHTTPClient.run { try h.request("GET", "/healthz", auth: false) }
            let r2 = try await RawHTTPClient.run { try keep.request("GET", "/healthz") }
            XCTAssertEqual([r.status, r2.status], [200, 200])
            worst = max(worst, Date().timeIntervalSince(t0))
        }
        XCTAssertLessThan(worst, 0.5, "a fast request waited behind the slow client")
        let result = try await slowResult.value
        XCTAssertFalse(result.answered, "the slow request must not be served")
        XCTAssertTrue(result.closed)
        XCTAssertLessThan(result.sent, 6, "dropped after about 2 s, not after the whole request")
    }

    func testIdleKeepAliveConnectionIsClosed() async throws {
        let h = try IngressHarness(environment: ["TALLY_IDLE_TIMEOUT": "1s"])
        let client = try h.client(timeout: 5)
        XCTAssertEqual(try client.request("GET", "/healthz").status, 200)
        let t0 = Date()
        let closed = try await RawHTTPClient.run { client.waitForClose() }
        XCTAssertTrue(closed)
        XCTAssertGreaterThan(Date().timeIntervalSince(t0), 0.8)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 3)
    }

    func testSilentConnectionWithAPartialRequestIsClosed() async throws {
        let h = try IngressHarness(environment: ["TALLY_REQUEST_TIMEOUT": "1s"])
        let client = try h.client(timeout: 5)
        try client.send("POST /v1/usage HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"user_id\"")
        let t0 = Date()
        let closed = try await RawHTTPClient.run { client.waitForClose() }
        XCTAssertTrue(closed)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 3)
        XCTAssertEqual(try h.jobCount(), 0)
    }
}
