@testable import Enqueue
import Foundation
import HTTPServer
import Support
import TestSupport
import XCTest

/// Hostile and broken requests: each answered with the right status and error code, nothing
/// enqueued, and the server still answering normal requests afterwards.
final class BadInputTests: XCTestCase {
    struct Case {
        let name: String
        let raw: [UInt8]
        let status: Int
        let code: String
    }

    func testTableOfBadInputs() throws {
        let h = try IngressHarness()
        let auth = "Authorization: Bearer \(h.apiKey)\r\n"
        func usage(_ body: String) -> [UInt8] {
            RawHTTPClient.format("POST", "/v1/usage", headers: ["Authorization": "Bearer \(h.apiKey)", "Content-Type": "application/json"], body: body)
        }
        func raw(_ text: String) -> [UInt8] { Array(text.utf8) }
        let valid = #"{"user_id":"u1","agent":"default","units":5,"idempotency_key":"k1"}"#
        var invalidUTF8 = Array(#"{"user_id":"u"#.utf8) + [0xC3, 0x28] + Array(#"","agent":"default","units":5,"idempotency_key":"k1"}"#.utf8)
        let invalidUTF8Request = RawHTTPClient.format("POST", "/v1/usage", headers: ["Authorization": "Bearer \(h.apiKey)"], body: invalidUTF8)
        invalidUTF8.removeAll()
        let flood = (0..<300).map { "X-Flood-\($0): x\r\n" }.joined()
        let cases: [Case] = [
            Case(name: "oversize body (Content-Length past 1 MiB)",
                 raw: raw("POST /v1/usage HTTP/1.1\r\nHost: t\r\n\(auth)Content-Length: 2000000\r\n\r\n") + [UInt8](repeating: 0x20, count: 65536),
                 status: 413, code: "payload_too_large"),
            Case(name: "header flood (300 headers)", raw: raw("GET /healthz HTTP/1.1\r\nHost: t\r\n\(flood)\r\n"), status: 431, code: "headers_too_large"),
            Case(name: "one huge header (20 KiB)", raw: raw("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "a", count: 20 * 1024))\r\n\r\n"),
                 status: 431, code: "headers_too_large"),
            Case(name: "missing field", raw: usage(#"{"user_id":"u1","agent":"default","idempotency_key":"k1"}"#), status: 400, code: "invalid_request"),
            Case(name: "units as a string", raw: usage(#"{"user_id":"u1","agent":"default","units":"5","idempotency_key":"k1"}"#), status: 400, code: "invalid_request"),
            Case(name: "units with a fraction", raw: usage(#"{"user_id":"u1","agent":"default","units":1.5,"idempotency_key":"k1"}"#), status: 400, code: "invalid_request"),
            Case(name: "units past Int64", raw: usage(#"{"user_id":"u1","agent":"default","units":9223372036854775808,"idempotency_key":"k1"}"#), status: 400, code: "invalid_request"),
            Case(name: "user_id as a number", raw: usage(#"{"user_id":1,"agent":"default","units":5,"idempotency_key":"k1"}"#), status: 400, code: "invalid_request"),
            Case(name: "user_id with a colon", raw: usage(#"{"user_id":"a:b","agent":"default","units":5,"idempotency_key":"k1"}"#), status: 400, code: "invalid_request"),
            Case(name: "negative units", raw: usage(#"{"user_id":"u1","agent":"default","units":-5,"idempotency_key":"k1"}"#), status: 400, code: "invalid_request"),
            Case(name: "units above 10^12", raw: usage(#"{"user_id":"u1","agent":"default","units":1000000000001,"idempotency_key":"k1"}"#), status: 400, code: "invalid_request"),
            Case(name: "zero units", raw: usage(#"{"user_id":"u1","agent":"default","units":0,"idempotency_key":"k1"}"#), status: 400, code: "invalid_request"),
            Case(name: "unknown field", raw: usage(#"{"user_id":"u1","agent":"default","units":5,"idempotency_key":"k1","unit":5}"#), status: 400, code: "invalid_request"),
            Case(name: "empty idempotency key", raw: usage(#"{"user_id":"u1","agent":"default","units":5,"idempotency_key":""}"#), status: 400, code: "invalid_request"),
            Case(name: "invalid UTF-8", raw: invalidUTF8Request, status: 400, code: "invalid_request"),
            Case(name: "malformed JSON", raw: usage(#"{"user_id":"u1","#), status: 400, code: "invalid_request"),
            Case(name: "JSON array body", raw: usage("[1,2]"), status: 400, code: "invalid_request"),
            Case(name: "trailing garbage after JSON", raw: usage(valid + "x"), status: 400, code: "invalid_request"),
            Case(name: "empty body", raw: usage(""), status: 400, code: "invalid_request"),
            Case(name: "unknown path", raw: raw("GET /v2/nothing HTTP/1.1\r\nHost: t\r\n\r\n"), status: 404, code: "not_found"),
            Case(name: "unknown path beats a missing key", raw: raw("POST /v1/usage/extra HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"), status: 404, code: "not_found"),
            Case(name: "wrong method", raw: raw("GET /v1/usage HTTP/1.1\r\nHost: t\r\n\r\n"), status: 405, code: "method_not_allowed"),
            Case(name: "wrong method on a webhook", raw: raw("PUT /webhooks/stripe HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"), status: 405, code: "method_not_allowed"),
            Case(name: "no API key", raw: RawHTTPClient.format("POST", "/v1/usage", body: valid), status: 401, code: "unauthorized"),
            Case(name: "unknown API key", raw: RawHTTPClient.format("POST", "/v1/usage", headers: ["Authorization": "Bearer tally_00"], body: valid), status: 401, code: "unauthorized"),
            Case(name: "key checked before the body", raw: RawHTTPClient.format("POST", "/v1/usage", body: "{"), status: 401, code: "unauthorized"),
            Case(name: "garbage request line", raw: raw("\u{1}\u{2}garbage\r\n\r\n"), status: 400, code: "invalid_request"),
            Case(name: "request line without version", raw: raw("GET /healthz\r\nHost: t\r\n\r\n"), status: 400, code: "invalid_request"),
            Case(name: "HTTP/2.0 version", raw: raw("GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n"), status: 400, code: "invalid_request"),
            Case(name: "absolute-form target", raw: raw("GET http://x/healthz HTTP/1.1\r\nHost: t\r\n\r\n"), status: 400, code: "invalid_request"),
            Case(name: "header without colon", raw: raw("GET /healthz HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n"), status: 400, code: "invalid_request"),
            Case(name: "space before the colon", raw: raw("GET /healthz HTTP/1.1\r\nHost : t\r\n\r\n"), status: 400, code: "invalid_request"),
            Case(name: "folded header", raw: raw("GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n continued\r\n\r\n"), status: 400, code: "invalid_request"),
            Case(name: "HTTP/1.1 without Host", raw: raw("GET /healthz HTTP/1.1\r\n\r\n"), status: 400, code: "invalid_request"),
            Case(name: "bad Content-Length", raw: raw("POST /v1/usage HTTP/1.1\r\nHost: t\r\nContent-Length: 12a\r\n\r\n"), status: 400, code: "invalid_request"),
            Case(name: "two different Content-Lengths", raw: raw("POST /v1/usage HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"), status: 400, code: "invalid_request"),
            Case(name: "Transfer-Encoding with Content-Length", raw: raw("POST /v1/usage HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"), status: 400, code: "invalid_request"),
            Case(name: "chunked body", raw: raw("POST /v1/usage HTTP/1.1\r\nHost: t\r\n\(auth)Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), status: 411, code: "length_required"),
            Case(name: "bad escape in a path parameter", raw: raw("GET /v1/jobs/%zz HTTP/1.1\r\nHost: t\r\n\(auth)\r\n"), status: 404, code: "not_found"),
            Case(name: "job id that is not a number", raw: raw("GET /v1/jobs/abc HTTP/1.1\r\nHost: t\r\n\(auth)\r\n"), status: 404, code: "not_found"),
            Case(name: "notification ids not integers", raw: RawHTTPClient.format("POST", "/v1/accounts/u1/notifications/read", headers: ["Authorization": "Bearer \(h.apiKey)"], body: #"{"ids":["1"]}"#), status: 400, code: "invalid_request"),
            Case(name: "unknown coin", raw: RawHTTPClient.format("POST", "/v1/purchases/crypto", headers: ["Authorization": "Bearer \(h.apiKey)"], body: #"{"user_id":"u1","product":"topup_100","coin":"doge"}"#), status: 400, code: "invalid_request"),
        ]
        for c in cases {
            let client = try h.client()
            try client.send(c.raw)
            let r = try client.readResponse()
            XCTAssertEqual(r.status, c.status, "\(c.name): \(r.text)")
            XCTAssertEqual(r.errorCode, c.code, c.name)
            XCTAssertNotNil(r.json?["message"]?.string, "\(c.name): every error has a message")
            XCTAssertEqual(r.headers["content-type"], "application/json", c.name)
            // Still serving.
            let health = try h.request("GET", "/healthz", auth: false)
            XCTAssertEqual(health.status, 200, "after \(c.name)")
        }
        XCTAssertEqual(try h.jobCount(), 0, "nothing was enqueued")
        XCTAssertEqual(try h.post("/v1/usage", valid).status, 202, "a normal request still works")
    }

    func testRefusedStreamIsClosedButCleanRequestsKeepTheConnection() throws {
        let h = try IngressHarness()
        let client = try h.client()
        // Two requests in one write (pipelined) and a third after: answered in order, one connection.
        try client.send(Array("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        XCTAssertEqual(try client.readResponse().status, 200)
        XCTAssertEqual(try client.readResponse().status, 404)
        XCTAssertEqual(try client.request("GET", "/healthz").status, 200)
        // Pipelined requests that reach the database are answered at once too, in order.
        let t0 = Date()
        let usage = { (key: String) in
            RawHTTPClient.format("POST", "/v1/usage", headers: ["Authorization": "Bearer \(h.apiKey)"],
                                 body: #"{"user_id":"u1","agent":"default","units":1,"idempotency_key":"\#(key)"}"#)
        }
        try client.send(usage("p1") + usage("p2") + usage("p3"))
        let ids = try (0..<3).map { _ in try XCTUnwrap(client.readResponse().json?["job_id"]?.int64) }
        XCTAssertEqual(ids, ids.sorted())
        XCTAssertLessThan(Date().timeIntervalSince(t0), 0.2, "a pipelined request waited for a timer")
        // A broken request gets its answer and the connection closes (the stream is not trusted).
        try client.send(Array("BROKEN\r\n\r\n".utf8))
        let r = try client.readResponse()
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.headers["connection"], "close")
        XCTAssertTrue(client.waitForClose())
    }

    func testExpectContinueIsAnswered() throws {
        let h = try IngressHarness()
        let client = try h.client()
        let body = #"{"user_id":"u1","agent":"default","units":5,"idempotency_key":"cont"}"#
        try client.send("POST /v1/usage HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(h.apiKey)\r\nExpect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
        // curl waits for the interim answer before sending a large body.
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = recv(client.fd, &buffer, 64, 0)
        XCTAssertEqual(String(decoding: buffer[0..<max(0, n)], as: UTF8.self), "HTTP/1.1 100 Continue\r\n\r\n")
        try client.send(body)
        XCTAssertEqual(try client.readResponse().status, 202)
    }

    func testConnectionCapAnswers503() throws {
        let h = try IngressHarness(environment: ["TALLY_MAX_CONNECTIONS": "2", "TALLY_INGRESS_THREADS": "1"])
        let a = try h.client(), b = try h.client()
        XCTAssertEqual(try a.request("GET", "/healthz").status, 200)
        XCTAssertEqual(try b.request("GET", "/healthz").status, 200)
        let c = try h.client()
        let r = try c.readResponse()
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.errorCode, "unavailable")
        XCTAssertTrue(c.waitForClose())
    }

    /// One client address cannot take every connection: past its own cap it gets 503 while
    /// the total has room, and a connection it closes frees a place.
    func testPerClientConnectionCapAnswers503() throws {
        let h = try IngressHarness(environment: ["TALLY_MAX_CONNECTIONS_PER_CLIENT": "2", "TALLY_INGRESS_THREADS": "2"])
        var a: RawHTTPClient? = try h.client()
        let b = try h.client()
        XCTAssertEqual(try a?.request("GET", "/healthz").status, 200)
        XCTAssertEqual(try b.request("GET", "/healthz").status, 200)
        let c = try h.client()
        let r = try c.readResponse()
        XCTAssertEqual(r.status, 503)
        XCTAssertTrue(r.text.contains("from this address"), r.text)
        XCTAssertTrue(c.waitForClose())
        a = nil  // closes it
        try waitUntilSync(timeout: 10) {
            let d = try h.client()
            return (try? d.request("GET", "/healthz").status) == 200
        }
    }

    /// `/metrics`: loopback clients always; others only with the token (decided on the
    /// connection's own address, never a header).
    func testMetricsAnswersLoopbackOrABearerOfTheToken() throws {
        let outside = PeerAddress(text: "203.0.113.7", isLoopback: false)
        let local = PeerAddress(text: "127.0.0.1", isLoopback: true)
        XCTAssertTrue(MetricsAccess.allows(peer: local, authorization: nil, token: nil))
        XCTAssertTrue(MetricsAccess.allows(peer: local, authorization: nil, token: "s3cret"))
        XCTAssertFalse(MetricsAccess.allows(peer: outside, authorization: nil, token: nil))
        XCTAssertFalse(MetricsAccess.allows(peer: outside, authorization: "Bearer s3cret", token: nil), "no token set: loopback only")
        XCTAssertFalse(MetricsAccess.allows(peer: outside, authorization: "Bearer wrong", token: "s3cret"))
        XCTAssertFalse(MetricsAccess.allows(peer: nil, authorization: nil, token: nil), "an unknown peer is not loopback")
        XCTAssertTrue(MetricsAccess.allows(peer: outside, authorization: "Bearer s3cret", token: "s3cret"))
        // And through the real server, from 127.0.0.1.
        let h = try IngressHarness(environment: ["TALLY_METRICS_TOKEN": "s3cret"])
        XCTAssertEqual(try h.client().request("GET", "/metrics").status, 200)
    }
}
