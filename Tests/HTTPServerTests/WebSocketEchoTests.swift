import Foundation
import HTTPServer
import TestSupport
import XCTest

/// A WebSocket end to end on 127.0.0.1: the handshake over a raw socket, then a server whose
/// `received` parses frames with WebSocketFrameParser and echoes text, answers pings and
/// closes.
final class WebSocketEchoTests: XCTestCase {
    let key = "dGhlIHNhbXBsZSBub25jZQ=="
    let closed = LockedBox<[UInt64]>([])

    func echoServer() throws -> HTTPServer {
        let closed = self.closed
        let server = try HTTPServer(config: ServerStreamTests.config()) { request in
            guard var response = WebSocket.handshakeResponse(for: request) else {
                return HTTPResponse.text(400, "a WebSocket handshake was expected")
            }
            // One parser per connection; callbacks run on the loop's thread, one at a time.
            let parser = LockedBox(WebSocketFrameParser(maxMessageBytes: 128 * 1024))
            response.stream = StreamHandler(opened: { _ in }, received: { stream, bytes in
                var events: [WebSocketFrameParser.Event] = []
                parser.mutate { events = $0.parse(bytes) }
                for event in events {
                    switch event {
                    case .text(let text): stream.send(WebSocket.textFrame(text))
                    case .binary: break
                    case .ping(let payload): stream.send(WebSocket.frame(opcode: .pong, payload: payload))
                    case .pong: break
                    case .close(let code, _):
                        stream.send(WebSocket.closeFrame(code: code ?? WebSocket.CloseCode.normal))
                        stream.close()
                    case .failure(let code, let reason):
                        stream.send(WebSocket.closeFrame(code: code, reason: reason))
                        stream.close()
                    }
                }
            }, closed: { s in closed.mutate { $0.append(s.id) } })
            return response
        }
        server.start()
        return server
    }

    func handshake(_ client: StreamClient, then early: [UInt8] = []) throws {
        try client.send(Array("GET /v1/stream HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n".utf8) + early)
        let head = try client.readHead()
        XCTAssertEqual(head.status, 101)
        XCTAssertEqual(head.headers["upgrade"], "websocket")
        XCTAssertEqual(head.headers["connection"], "Upgrade")
        XCTAssertEqual(head.headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        XCTAssertNil(head.headers["content-length"])
    }

    /// The next server frame (they are unmasked and unfragmented): opcode and payload.
    func readFrame(_ client: StreamClient) -> (opcode: UInt8, payload: [UInt8])? {
        var frame: (UInt8, [UInt8], Int)?
        client.read { r in
            guard r.count >= 2 else { return false }
            XCTAssertEqual(r[1] & 0x80, 0, "server frames are not masked")
            var length = Int(r[1] & 0x7F), at = 2
            if length == 126 {
                guard r.count >= 4 else { return false }
                length = Int(r[2]) << 8 | Int(r[3])
                at = 4
            } else if length == 127 {
                guard r.count >= 10 else { return false }
                length = r[2..<10].reduce(0) { $0 << 8 | Int($1) }
                at = 10
            }
            guard r.count >= at + length else { return false }
            XCTAssertEqual(r[0] & 0x80, 0x80, "FIN")
            frame = (r[0] & 0x0F, Array(r[at..<(at + length)]), at + length)
            return true
        }
        guard let frame else { return nil }
        client.received.removeFirst(frame.2)
        return (frame.0, frame.1)
    }

    func testEchoPingAndClose() throws {
        let server = try echoServer()
        defer { server.stop(grace: 1) }
        let client = try StreamClient(port: server.port)
        // A frame right behind the handshake, in the same write, is the stream's too.
        try handshake(client, then: WebSocketTests.frame(opcode: 0x1, payload: Array("early".utf8)))
        XCTAssertEqual(readFrame(client)?.payload, Array("early".utf8))

        try client.send(WebSocketTests.frame(opcode: 0x1, payload: Array("hello".utf8)))
        let echo = readFrame(client)
        XCTAssertEqual(echo?.opcode, 0x1)
        XCTAssertEqual(echo.map { String(decoding: $0.payload, as: UTF8.self) }, "hello")

        try client.send(WebSocketTests.frame(opcode: 0x9, payload: Array("ping?".utf8)))
        let pong = readFrame(client)
        XCTAssertEqual(pong?.opcode, 0xA)
        XCTAssertEqual(pong?.payload, Array("ping?".utf8))

        // Fragmented, a byte at a time, with a ping in the middle: a pong, then one echo.
        let fragmented = WebSocketTests.frame(opcode: 0x1, fin: false, payload: Array("frag".utf8))
            + WebSocketTests.frame(opcode: 0x9, payload: [])
            + WebSocketTests.frame(opcode: 0x0, payload: Array("mented".utf8))
        for b in fragmented { try client.send([b]) }
        XCTAssertEqual(readFrame(client)?.opcode, 0xA)
        XCTAssertEqual(readFrame(client)?.payload, Array("fragmented".utf8))

        // 70,000 bytes: a 64-bit length each way.
        let big = String(repeating: "0123456789", count: 7000)
        try client.send(WebSocketTests.frame(opcode: 0x1, payload: Array(big.utf8)))
        let bigEcho = readFrame(client)
        XCTAssertEqual(bigEcho?.payload.count, 70_000)
        XCTAssertEqual(bigEcho.map { String(decoding: $0.payload, as: UTF8.self) == big }, true)

        try client.send(WebSocketTests.frame(opcode: 0x8, payload: [0x03, 0xE8]))
        let close = readFrame(client)
        XCTAssertEqual(close?.opcode, 0x8)
        XCTAssertEqual(close?.payload, [0x03, 0xE8])
        XCTAssertTrue(client.waitForEOF())
        try waitUntilSync { self.closed.value.count == 1 }
    }

    func testAnUnmaskedFrameGetsAProtocolErrorClose() throws {
        let server = try echoServer()
        defer { server.stop(grace: 1) }
        let client = try StreamClient(port: server.port)
        try handshake(client)
        try client.send(WebSocket.textFrame("a server's frame from a client"))
        let close = readFrame(client)
        XCTAssertEqual(close?.opcode, 0x8)
        XCTAssertEqual(close.map { Array($0.payload.prefix(2)) }, [0x03, 0xEA], "1002")
        XCTAssertTrue(client.waitForEOF())
        try waitUntilSync { self.closed.value.count == 1 }
    }

    func testARequestThatIsNoHandshakeIsAnOrdinaryAnswer() throws {
        let server = try echoServer()
        defer { server.stop(grace: 1) }
        let client = try StreamClient(port: server.port)
        try client.send("GET /v1/stream HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        let head = try client.readHead()
        XCTAssertEqual(head.status, 400)
        XCTAssertNotNil(head.headers["content-length"])
    }
}
