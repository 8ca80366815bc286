import Support
import HTTPServer
import XCTest

/// The WebSocket codec alone: handshake values, server frames, and the client-frame parser
/// (ops/fuzz runs the parser under libFuzzer too).
final class WebSocketTests: XCTestCase {
    typealias Parser = WebSocketFrameParser

    func testAcceptKeyOfTheRFCExample() {
        // RFC 6455 1.3.
        XCTAssertEqual(WebSocket.acceptKey(forKey: "dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    func testUpgradeRequestsAndTheHandshake() {
        func request(_ changes: (inout HTTPRequest) -> Void = { _ in }) -> HTTPRequest {
            var r = HTTPRequest(method: "GET", path: "/v1/stream", headers: [
                HTTPHeader(name: "host", value: "a"),
                HTTPHeader(name: "upgrade", value: "WebSocket"),
                HTTPHeader(name: "connection", value: "keep-alive, Upgrade"),
                HTTPHeader(name: "sec-websocket-version", value: "13"),
                HTTPHeader(name: "sec-websocket-key", value: "dGhlIHNhbXBsZSBub25jZQ=="),
            ])
            changes(&r)
            return r
        }
        func replacing(_ name: String, _ value: String?) -> HTTPRequest {
            request { r in
                r.headers.removeAll { $0.name == name }
                if let value { r.headers.append(HTTPHeader(name: name, value: value)) }
            }
        }
        XCTAssertTrue(WebSocket.isUpgrade(request()))
        XCTAssertFalse(WebSocket.isUpgrade(request { $0.method = "POST" }))
        XCTAssertFalse(WebSocket.isUpgrade(replacing("upgrade", nil)))
        XCTAssertFalse(WebSocket.isUpgrade(replacing("upgrade", "h2c")))
        XCTAssertFalse(WebSocket.isUpgrade(replacing("connection", "keep-alive")))
        XCTAssertFalse(WebSocket.isUpgrade(replacing("sec-websocket-version", "8")))
        XCTAssertFalse(WebSocket.isUpgrade(replacing("sec-websocket-version", nil)))
        XCTAssertFalse(WebSocket.isUpgrade(replacing("sec-websocket-key", nil)))
        XCTAssertFalse(WebSocket.isUpgrade(replacing("sec-websocket-key", "not base64 at all!!!!!!!")))
        XCTAssertFalse(WebSocket.isUpgrade(replacing("sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA")))  // 21 bytes
        XCTAssertFalse(WebSocket.isUpgrade(replacing("sec-websocket-key", "")))

        guard let response = WebSocket.handshakeResponse(for: request()) else { return XCTFail("no handshake") }
        XCTAssertEqual(response.status, 101)
        XCTAssertEqual(response.headers.first { $0.name == "Sec-WebSocket-Accept" }?.value, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        XCTAssertEqual(response.headers.first { $0.name == "Upgrade" }?.value, "websocket")
        XCTAssertEqual(response.headers.first { $0.name == "Connection" }?.value, "Upgrade")
        XCTAssertNil(WebSocket.handshakeResponse(for: replacing("sec-websocket-version", "12")))
    }

    func testServerFramesUseTheShortestLength() {
        for (n, header) in [(0, [0x81, 0]), (125, [0x81, 125]), (126, [0x81, 126, 0, 126]), (65535, [0x81, 126, 0xFF, 0xFF]),
                            (65536, [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0])] {
            let frame = WebSocket.frame(opcode: .text, payload: [UInt8](repeating: 0x61, count: n))
            XCTAssertEqual(Array(frame.prefix(header.count)), header.map(UInt8.init), "length \(n)")
            XCTAssertEqual(frame.count, header.count + n)
        }
        XCTAssertEqual(WebSocket.closeFrame(code: 1000), [0x88, 2, 0x03, 0xE8])
        XCTAssertEqual(WebSocket.closeFrame(code: 1001, reason: String(repeating: "é", count: 100)).count, 2 + 2 + 122)
    }

    func testRoundTripsOfEveryLengthClass() {
        for n in [0, 1, 125, 126, 127, 65535, 65536, 70000] {
            let payload = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            var parser = Parser(maxMessageBytes: 1 << 20)
            let masked = Self.masked(WebSocket.frame(opcode: .binary, payload: payload))
            XCTAssertEqual(parser.parse(masked), [.binary(payload)], "length \(n)")
            // The same bytes a few at a time: nothing until the last piece, then the same frame.
            var split = Parser(maxMessageBytes: 1 << 20)
            var events: [Parser.Event] = []
            var i = 0
            let step = max(1, masked.count / 7)
            while i < masked.count {
                events += split.parse(Array(masked[i..<min(masked.count, i + step)]))
                i += step
            }
            XCTAssertEqual(events, [.binary(payload)], "length \(n) in pieces")
        }
        var parser = Parser()
        XCTAssertEqual(parser.parse(Self.masked(WebSocket.textFrame("héllo"))), [.text("héllo")])
    }

    func testUnmaskedFramesAreRefused() {
        var parser = Parser()
        XCTAssertEqual(parser.parse(WebSocket.textFrame("hi")), [.failure(code: 1002, reason: "client frames must be masked")])
        XCTAssertTrue(parser.finished)
        XCTAssertEqual(parser.parse(Self.masked(WebSocket.textFrame("hi"))), [], "nothing is read after a failure")
    }

    func testPingPongAndClose() {
        var parser = Parser()
        let bytes = Self.frame(opcode: 0x9, payload: Array("are you there".utf8))
            + Self.frame(opcode: 0xA, payload: [])
            + Self.frame(opcode: 0x8, payload: [0x03, 0xE9] + Array("bye".utf8))
            + Self.frame(opcode: 0x1, payload: Array("after close".utf8))
        XCTAssertEqual(parser.parse(bytes), [.ping(Array("are you there".utf8)), .pong([]), .close(code: 1001, reason: "bye")])
        var empty = Parser()
        XCTAssertEqual(empty.parse(Self.frame(opcode: 0x8, payload: [])), [.close(code: nil, reason: "")])
        func closeCode(_ payload: [UInt8]) -> UInt16? {
            var p = Parser()
            if case .failure(let code, _)? = p.parse(Self.frame(opcode: 0x8, payload: payload)).first { return code }
            return nil
        }
        XCTAssertEqual(closeCode([0x03]), 1002, "a 1-byte close body")
        XCTAssertEqual(closeCode([0x03, 0xED]), 1002, "1005 is never sent")
        XCTAssertEqual(closeCode([0x03, 0xEE]), 1002, "1006 is never sent")
        XCTAssertEqual(closeCode([0x00, 0x10]), 1002, "below 1000")
        XCTAssertEqual(closeCode([0x03, 0xE8, 0xFF]), 1007, "a reason that is not UTF-8")
        XCTAssertNil(closeCode([0x0F, 0xA0]), "4000 is an application's code")
    }

    func testFragmentedTextIsAssembledAroundControlFrames() {
        var parser = Parser()
        let bytes = Self.frame(opcode: 0x1, fin: false, payload: Array("Hel".utf8))
            + Self.frame(opcode: 0x0, fin: false, payload: Array("lo, ".utf8))
            + Self.frame(opcode: 0x9, payload: [7])
            + Self.frame(opcode: 0x0, fin: true, payload: Array("world".utf8))
            + Self.frame(opcode: 0x2, payload: [1, 2, 3])
        XCTAssertEqual(parser.parse(bytes), [.ping([7]), .text("Hello, world"), .binary([1, 2, 3])])
        // A character split between fragments is only checked whole.
        var utf8 = Parser()
        let e = Array("é".utf8)
        XCTAssertEqual(utf8.parse(Self.frame(opcode: 0x1, fin: false, payload: [e[0]]) + Self.frame(opcode: 0x0, payload: [e[1]])), [.text("é")])
    }

    func testBadFramesGiveTheirCloseCodes() {
        func code(_ bytes: [UInt8], max: Int = 1024) -> UInt16? {
            var p = Parser(maxMessageBytes: max)
            let events = p.parse(bytes)
            guard case .failure(let code, _)? = events.last else { return nil }
            XCTAssertTrue(p.finished)
            return code
        }
        XCTAssertEqual(code(WebSocket.frame(opcode: .text, payload: [1])), 1002, "unmasked")
        XCTAssertEqual(code(Self.frame(opcode: 0x9, payload: [UInt8](repeating: 0, count: 126))), 1002, "control over 125")
        XCTAssertEqual(code(Self.frame(opcode: 0x9, fin: false, payload: [])), 1002, "fragmented control")
        XCTAssertEqual(code(Self.frame(opcode: 0x1, rsv: 0x40, payload: [])), 1002, "RSV1 without an extension")
        XCTAssertEqual(code(Self.frame(opcode: 0x1, rsv: 0x10, payload: [])), 1002, "RSV3")
        XCTAssertEqual(code(Self.frame(opcode: 0x3, payload: [])), 1002, "reserved data opcode")
        XCTAssertEqual(code(Self.frame(opcode: 0xB, payload: [])), 1002, "reserved control opcode")
        XCTAssertEqual(code(Self.frame(opcode: 0x0, payload: [1])), 1002, "continuation with nothing to continue")
        XCTAssertEqual(code(Self.frame(opcode: 0x1, fin: false, payload: [0x61]) + Self.frame(opcode: 0x1, payload: [0x62])), 1002,
                       "a new message inside a fragmented one")
        XCTAssertEqual(code(Self.frame(opcode: 0x1, payload: [0xC3, 0x28])), 1007, "text that is not UTF-8")
        XCTAssertEqual(code(Self.frame(opcode: 0x2, payload: [UInt8](repeating: 0, count: 1025))), 1009, "one frame over the limit")
        XCTAssertEqual(code(Self.frame(opcode: 0x2, fin: false, payload: [UInt8](repeating: 0, count: 600))
                            + Self.frame(opcode: 0x0, payload: [UInt8](repeating: 0, count: 600))), 1009, "fragments over the limit")
        // Refused from the header alone: a 2^62-byte announcement is not waited for.
        XCTAssertEqual(code([0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0]), 1009, "huge 64-bit length")
        XCTAssertEqual(code([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]), 1002, "64-bit length with the top bit set")
        XCTAssertEqual(code([0x82, 0xFE, 0xFF, 0xFF], max: 1000), 1009, "16-bit length over the limit")
    }

    /// Random bytes, and random mutations of valid frames, in random pieces: no trap, the same
    /// events whole or split, never more payload than was given.
    func testRandomInputNeverTrapsAndDoesNotDependOnTheSplit() {
        var rng = SplitMix64(seed: 6455)
        let valid = Self.frame(opcode: 0x1, fin: false, payload: Array("abc".utf8)) + Self.frame(opcode: 0x9, payload: [1])
            + Self.frame(opcode: 0x0, payload: Array("def".utf8)) + Self.frame(opcode: 0x2, payload: [UInt8](repeating: 9, count: 300))
            + Self.frame(opcode: 0x8, payload: [0x03, 0xE8])
        for round in 0..<3000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                bytes = valid
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            var whole = Parser(maxMessageBytes: 512)
            let a = whole.parse(bytes)
            var split = Parser(maxMessageBytes: 512)
            var b: [Parser.Event] = []
            var i = 0
            while i < bytes.count {
                let n = 1 + Int(rng.next() % 9)
                b += split.parse(Array(bytes[i..<min(bytes.count, i + n)]))
                i += n
            }
            XCTAssertEqual(a, b, "round \(round)")
            for e in a {
                switch e {
                case .binary(let p), .ping(let p), .pong(let p): XCTAssertLessThanOrEqual(p.count, bytes.count)
                case .text(let t): XCTAssertLessThanOrEqual(t.utf8.count, bytes.count)
                case .close, .failure: break
                }
            }
        }
    }

    // MARK: Client frames (masked), as a browser sends them

    static let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

    /// A masked frame with any header bits, even invalid ones.
    static func frame(opcode: UInt8, fin: Bool = true, rsv: UInt8 = 0, payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
        let n = payload.count
        if n <= 125 {
            out.append(0x80 | UInt8(n))
        } else if n <= 0xFFFF {
            out += [0x80 | 126, UInt8(n >> 8), UInt8(n & 0xFF)]
        } else {
            out.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: UInt64(n) >> UInt64(shift))) }
        }
        out += mask
        for (i, b) in payload.enumerated() { out.append(b ^ mask[i & 3]) }
        return out
    }

    /// A server frame (unmasked) made into a client's: the mask bit and key inserted.
    static func masked(_ serverFrame: [UInt8]) -> [UInt8] {
        var headerLength = 2
        if serverFrame[1] == 126 { headerLength = 4 } else if serverFrame[1] == 127 { headerLength = 10 }
        var out = Array(serverFrame[0..<headerLength])
        out[1] |= 0x80
        out += mask
        for (i, b) in serverFrame[headerLength...].enumerated() { out.append(b ^ mask[i & 3]) }
        return out
    }
}
