import Foundation
import Support

/// The WebSocket protocol's pure parts (RFC 6455), no sockets: the opening handshake (4.2) and
/// the server's frames (5.2; a server never masks). Reading the client's frames is
/// `WebSocketFrameParser`. A stream carries the frames: `handshakeResponse(for:)`, with a
/// `StreamHandler` attached, is the answer that opens it.
public enum WebSocket {
    /// RFC 6455 1.3: appended to the client's key before hashing.
    public static let magicGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    public enum Opcode: UInt8, Sendable, Equatable {
        case continuation = 0x0
        case text = 0x1
        case binary = 0x2
        case close = 0x8
        case ping = 0x9
        case pong = 0xA

        /// Close, ping and pong (5.5): at most 125 bytes of payload, never fragmented.
        public var isControl: Bool { rawValue & 0x8 != 0 }
    }

    /// Close codes (7.4.1) this server sends.
    public enum CloseCode {
        public static let normal: UInt16 = 1000
        public static let goingAway: UInt16 = 1001
        public static let protocolError: UInt16 = 1002
        public static let invalidPayload: UInt16 = 1007
        public static let policyViolation: UInt16 = 1008
        public static let messageTooBig: UInt16 = 1009
        public static let internalError: UInt16 = 1011
    }

    /// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (4.2.2): base64 of the SHA-1 of the key
    /// (as sent, trimmed) followed by the GUID.
    public static func acceptKey(forKey key: String) -> String {
        Data(Crypto.sha1(Array((key + magicGUID).utf8))).base64EncodedString()
    }

    /// A version-13 opening handshake (4.2.1): GET, `Upgrade: websocket`, `Connection`
    /// listing `upgrade`, `Sec-WebSocket-Version: 13` and a key that is base64 of 16 bytes.
    /// (HTTP/1.1 and `Host` are the request parser's checks already.)
    public static func isUpgrade(_ request: HTTPRequest) -> Bool {
        guard request.method == "GET" else { return false }
        guard hasToken(request, "upgrade", "websocket"), hasToken(request, "connection", "upgrade") else { return false }
        guard request.header("sec-websocket-version") == "13" else { return false }
        guard let key = request.header("sec-websocket-key"), key.utf8.count == 24,
              let decoded = Data(base64Encoded: key), decoded.count == 16 else { return false }
        return true
    }

    /// `101 Switching Protocols` with `Upgrade`, `Connection` and `Sec-WebSocket-Accept` for a
    /// handshake, or nil when `request` is none. Attach a `StreamHandler` (`response.stream`)
    /// before returning it: without one the connection would not become a stream.
    public static func handshakeResponse(for request: HTTPRequest) -> HTTPResponse? {
        guard isUpgrade(request), let key = request.header("sec-websocket-key") else { return nil }
        return HTTPResponse(status: 101, headers: [
            HTTPHeader(name: "Upgrade", value: "websocket"),
            HTTPHeader(name: "Connection", value: "Upgrade"),
            HTTPHeader(name: "Sec-WebSocket-Accept", value: acceptKey(forKey: key)),
        ])
    }

    /// One whole, unmasked frame as a server sends it (FIN set; the 7-, 16- or 64-bit length,
    /// whichever is shortest, 5.2). Control frames must carry at most 125 bytes: the caller's
    /// duty (a longer one is sent as asked, and a client will refuse it).
    public static func frame(opcode: Opcode, payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + 10)
        out.append(0x80 | opcode.rawValue)
        let n = payload.count
        if n <= 125 {
            out.append(UInt8(n))
        } else if n <= 0xFFFF {
            out.append(126)
            out.append(UInt8(n >> 8))
            out.append(UInt8(n & 0xFF))
        } else {
            out.append(127)
            let n64 = UInt64(n)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: n64 >> UInt64(shift))) }
        }
        out.append(contentsOf: payload)
        return out
    }

    /// A text frame of `text` in UTF-8.
    public static func textFrame(_ text: String) -> [UInt8] { frame(opcode: .text, payload: Array(text.utf8)) }

    /// A close frame with `code` and a reason cut to fit a control frame (123 bytes, on a
    /// UTF-8 character boundary).
    public static func closeFrame(code: UInt16, reason: String = "") -> [UInt8] {
        var payload: [UInt8] = [UInt8(code >> 8), UInt8(code & 0xFF)]
        var cut = Substring(reason)
        while cut.utf8.count > 123 { cut.removeLast() }
        payload.append(contentsOf: cut.utf8)
        return frame(opcode: .close, payload: payload)
    }

    /// Whether a header (every line of that name) lists `token`, case-insensitively.
    private static func hasToken(_ request: HTTPRequest, _ name: String, _ token: String) -> Bool {
        for h in request.headers where h.name == name {
            for part in h.value.lowercased().split(separator: ",") where part.trimmingSpaces == token { return true }
        }
        return false
    }
}
