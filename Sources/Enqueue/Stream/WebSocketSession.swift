import HTTPServer
import Synchronization

/// The client side of one `/v1/stream` WebSocket: its frames are parsed (a ping answered, a
/// close or a protocol error closes, anything else ignored, as DESIGN.md says).
final class WebSocketSession: Sendable {
    private let parser = Mutex(WebSocketFrameParser())

    /// Bytes the client sent, in order, on the server loop's thread.
    func received(_ bytes: [UInt8], on stream: ServerStream) {
        let events = parser.withLock { $0.parse(bytes) }
        for event in events {
            switch event {
            case .ping(let payload): stream.send(WebSocket.frame(opcode: .pong, payload: payload))
            case .close(let code, _):
                stream.send(WebSocket.closeFrame(code: code ?? WebSocket.CloseCode.normal))
                stream.close()
            case .failure(let code, let reason):
                stream.send(WebSocket.closeFrame(code: code, reason: reason))
                stream.close()
            case .text, .binary, .pong: break
            }
        }
    }
}
