import HTTPServer
import XCTest

/// The parser alone: no sockets (ops/fuzz runs it under libFuzzer too).
final class RequestParserTests: XCTestCase {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testWholeRequestSplitAnywhereParsesTheSame() {
        let raw = bytes("POST /v1/usage?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-Thing:  spaced \r\n\r\nhello")
        for split in 0...raw.count {
            var p = RequestParser()
            var outcome = p.parse(Array(raw[0..<split]))
            if split < raw.count {
                XCTAssertEqual(outcome, .needMore, "split at \(split)")
                outcome = p.parse(raw)
            }
            guard case .request(let r, let consumed) = outcome else { return XCTFail("split at \(split): \(outcome)") }
            XCTAssertEqual(consumed, raw.count)
            XCTAssertEqual(r.method, "POST")
            XCTAssertEqual(r.path, "/v1/usage")
            XCTAssertEqual(r.query, "x=1")
            XCTAssertEqual(r.header("x-thing"), "spaced")
            XCTAssertEqual(r.body, bytes("hello"))
            XCTAssertTrue(r.keepAlive)
        }
    }

    func testPipelinedRequestsAreReturnedOneAtATime() {
        let raw = bytes("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        var p = RequestParser()
        guard case .request(let a, let n) = p.parse(raw) else { return XCTFail() }
        XCTAssertEqual(a.path, "/a")
        guard case .request(let b, let m) = p.parse(Array(raw[n...])) else { return XCTFail() }
        XCTAssertEqual(b.path, "/b")
        XCTAssertFalse(b.keepAlive)
        XCTAssertEqual(n + m, raw.count)
    }

    func testKeepAliveRules() {
        func keep(_ head: String) -> Bool? {
            var p = RequestParser()
            if case .request(let r, _) = p.parse(bytes(head + "\r\n\r\n")) { return r.keepAlive }
            return nil
        }
        XCTAssertEqual(keep("GET / HTTP/1.1\r\nHost: a"), true)
        XCTAssertEqual(keep("GET / HTTP/1.1\r\nHost: a\r\nConnection: close"), false)
        XCTAssertEqual(keep("GET / HTTP/1.0"), false)
        XCTAssertEqual(keep("GET / HTTP/1.0\r\nConnection: Keep-Alive"), true)
    }

    func testLimitsAndRefusals() {
        func outcome(_ raw: [UInt8], limits: RequestParser.Limits = .init()) -> RequestParser.Outcome {
            var p = RequestParser(limits: limits)
            return p.parse(raw)
        }
        func status(_ raw: String) -> Int? {
            if case .failure(let f) = outcome(bytes(raw)) { return f.status }
            return nil
        }
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: a\r\nX: \(String(repeating: "a", count: 17000))\r\n\r\n"), 431)
        // Past the limit without an end of head yet: refused at once, not after the whole flood.
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: a\r\nX: \(String(repeating: "a", count: 17000))"), 431)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n"), 413)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), 411)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"), 400)
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: a\r\nBad\u{0}: x\r\n\r\n"), 400)
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{1}b\r\n\r\n"), 400)
        XCTAssertEqual(status("GET / HTTP/1.1\nHost: a\r\n\r\n"), 400)
        XCTAssertEqual(status("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400)
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400)
        if case .request(let r, _) = outcome(bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n") + [UInt8](repeating: 1, count: 1 << 20)) {
            XCTAssertEqual(r.body.count, 1 << 20, "exactly 1 MiB is allowed")
        } else {
            XCTFail("a 1 MiB body is within the limit")
        }
        // Empty lines before a request are tolerated.
        if case .request(let r, let n) = outcome(bytes("\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n")) {
            XCTAssertEqual(r.path, "/x")
            XCTAssertEqual(n, 4 + 28)
        } else {
            XCTFail()
        }
        // A few: eight are tolerated, a ninth is refused (it could otherwise grow the buffer
        // for the whole request timeout).
        let eight = String(repeating: "\r\n", count: RequestParser.maxLeadingEmptyLines)
        if case .request(let r, _) = outcome(bytes(eight + "GET /y HTTP/1.1\r\nHost: a\r\n\r\n")) {
            XCTAssertEqual(r.path, "/y")
        } else {
            XCTFail("\(RequestParser.maxLeadingEmptyLines) empty lines are tolerated")
        }
        XCTAssertEqual(status(eight + "\r\nGET /y HTTP/1.1\r\nHost: a\r\n\r\n"), 400)
        XCTAssertEqual(status(String(repeating: "\r\n", count: 1000)), 400, "refused before any request line arrives")
    }

    func testExpectContinueIsAskedOnce() {
        var p = RequestParser()
        let head = bytes("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        XCTAssertEqual(p.parse(head), .continueExpected)
        XCTAssertEqual(p.parse(head + bytes("a")), .needMore)
        guard case .request(let r, _) = p.parse(head + bytes("abc")) else { return XCTFail() }
        XCTAssertEqual(r.body, bytes("abc"))
    }

    func testRandomBytesNeverCrashAndNeverReturnMoreThanGiven() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = bytes("GET POST / HTTP/1.1\r\n:Host Content-Length 0123456789 chunked \u{0}\u{7f}\u{ff}")
        for _ in 0..<2000 {
            let n = Int.random(in: 0..<300, using: &generator)
            let raw = (0..<n).map { _ in alphabet.randomElement(using: &generator)! }
            var p = RequestParser()
            if case .request(_, let consumed) = p.parse(raw) { XCTAssertLessThanOrEqual(consumed, raw.count) }
        }
    }
}

/// Inputs ops/fuzz once found (ops/fuzz.d/regressions): parsed whole and in two pieces, the
/// parser must give the same answers.
final class ParserRegressionTests: XCTestCase {
    func testFuzzFindingsParseTheSameWholeOrSplit() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ops/fuzz.d/regressions")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertFalse(files.isEmpty)
        let limits = RequestParser.Limits(maxHeaderBytes: 1024, maxHeaderCount: 16, maxBodyBytes: 2048)
        for file in files {
            let bytes = Array(try Data(contentsOf: dir.appendingPathComponent(file)))
            let whole = RequestParser.transcript(of: bytes, pieces: 1, limits: limits)
            for pieces in 2...7 {
                XCTAssertEqual(RequestParser.transcript(of: bytes, pieces: pieces, limits: limits), whole, "\(file) in \(pieces) pieces")
            }
        }
    }
}
