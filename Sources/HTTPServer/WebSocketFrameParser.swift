/// Reads a client's WebSocket frames (RFC 6455 5): a plain value with no sockets, fed the bytes
/// as they arrive in any pieces, so it is unit tested and fuzzed (ops/fuzz) on its own.
///
/// Strict, because its input is hostile: every client frame must be masked (5.1); no
/// extensions, so the reserved bits must be 0; control frames carry at most 125 bytes and are
/// never fragmented (5.5); a fragmented message is assembled whole, with control frames
/// allowed between its fragments (5.4), and no larger than `maxMessageBytes`, refused as soon
/// as a frame header announces more, before any of it is buffered. A text message must be
/// UTF-8 (8.1). A violation yields `.failure` with the close code to send
/// (`WebSocket.closeFrame(code:)`) before closing the connection, and the parser reads nothing
/// more; after the client's close frame it reads nothing more either.
public struct WebSocketFrameParser: Sendable {
    public enum Event: Sendable, Equatable {
        /// A whole text message (its fragments joined), valid UTF-8.
        case text(String)
        /// A whole binary message.
        case binary([UInt8])
        /// Answer with a pong carrying the same payload (5.5.2).
        case ping([UInt8])
        case pong([UInt8])
        /// The client closes: answer with a close frame (echoing `code`, or 1000 when it sent
        /// none), then close the connection.
        case close(code: UInt16?, reason: String)
        /// A protocol violation: send a close frame with `code` (1002 protocol error, 1007
        /// invalid UTF-8, 1009 too big), then close the connection.
        case failure(code: UInt16, reason: String)
    }

    /// The largest message (all its fragments together). 64 KiB by default: a client of
    /// `/v1/stream` sends nothing but pongs and a close.
    public let maxMessageBytes: Int
    private var buffer: [UInt8] = []
    /// The bytes of `buffer` already parsed into events (compacted once per `parse` call).
    private var start = 0
    /// A fragmented message in progress: its opcode and what arrived so far.
    private var fragmentOpcode: WebSocket.Opcode?
    private var fragments: [UInt8] = []
    /// A failure or the client's close was returned: everything after is ignored.
    public private(set) var finished = false

    public init(maxMessageBytes: Int = 64 * 1024) {
        self.maxMessageBytes = max(0, maxMessageBytes)
    }

    /// Takes the next bytes of the connection; returns the events they complete, in order.
    public mutating func parse(_ bytes: [UInt8]) -> [Event] {
        guard !finished else { return [] }
        buffer.append(contentsOf: bytes)
        var events: [Event] = []
        while !finished, let event = nextEvent() {
            events.append(event)
            if case .failure = event { finished = true }
            if case .close = event { finished = true }
        }
        if finished {
            buffer = []
            fragments = []
            start = 0
        } else if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
        return events
    }

    // MARK: Internals

    /// The next event from the buffer, parsing past frames that complete nothing (a fragment
    /// that is not the last); nil when more bytes are needed.
    private mutating func nextEvent() -> Event? {
        while true {
            switch nextFrame() {
            case .needMore:
                return nil
            case .failure(let code, let reason):
                return .failure(code: code, reason: reason)
            case .frame(let fin, let opcode, let payload):
                if let event = handle(fin: fin, opcode: opcode, payload: payload) { return event }
            }
        }
    }

    private enum FrameOutcome {
        case needMore
        case frame(fin: Bool, opcode: WebSocket.Opcode, payload: [UInt8])
        case failure(UInt16, String)
    }

    /// One frame's header checks and its unmasked payload, when it is all here.
    private mutating func nextFrame() -> FrameOutcome {
        let available = buffer.count - start
        guard available >= 2 else { return .needMore }
        let b0 = buffer[start], b1 = buffer[start + 1]
        let fin = b0 & 0x80 != 0
        guard b0 & 0x70 == 0 else { return .failure(WebSocket.CloseCode.protocolError, "reserved bits set without an extension") }
        guard let opcode = WebSocket.Opcode(rawValue: b0 & 0x0F) else {
            return .failure(WebSocket.CloseCode.protocolError, "unknown opcode \(b0 & 0x0F)")
        }
        guard b1 & 0x80 != 0 else { return .failure(WebSocket.CloseCode.protocolError, "client frames must be masked") }
        let length7 = b1 & 0x7F
        if opcode.isControl {
            guard fin else { return .failure(WebSocket.CloseCode.protocolError, "fragmented control frame") }
            guard length7 <= 125 else { return .failure(WebSocket.CloseCode.protocolError, "control frame over 125 bytes") }
        }
        var headerLength = 2
        var length: UInt64 = UInt64(length7)
        if length7 == 126 {
            guard available >= 4 else { return .needMore }
            length = UInt64(buffer[start + 2]) << 8 | UInt64(buffer[start + 3])
            headerLength = 4
        } else if length7 == 127 {
            guard available >= 10 else { return .needMore }
            length = 0
            for i in 0..<8 { length = length << 8 | UInt64(buffer[start + 2 + i]) }
            guard length >> 63 == 0 else { return .failure(WebSocket.CloseCode.protocolError, "the length's most significant bit is set") }
            headerLength = 10
        }
        // Refused from the header alone: nothing of an oversized message is buffered.
        if !opcode.isControl {
            let sofar = opcode == .continuation ? UInt64(fragments.count) : 0
            guard length <= UInt64(maxMessageBytes), sofar + length <= UInt64(maxMessageBytes) else {
                return .failure(WebSocket.CloseCode.messageTooBig, "message over \(maxMessageBytes) bytes")
            }
        }
        let n = Int(length)  // at most maxMessageBytes or 125 here
        guard available >= headerLength + 4 + n else { return .needMore }
        let maskAt = start + headerLength
        let mask = (buffer[maskAt], buffer[maskAt + 1], buffer[maskAt + 2], buffer[maskAt + 3])
        let payloadAt = maskAt + 4
        var payload = [UInt8](repeating: 0, count: n)
        for i in 0..<n {
            let m: UInt8
            switch i & 3 {
            case 0: m = mask.0
            case 1: m = mask.1
            case 2: m = mask.2
            default: m = mask.3
            }
            payload[i] = buffer[payloadAt + i] ^ m
        }
        start = payloadAt + n
        return .frame(fin: fin, opcode: opcode, payload: payload)
    }

    /// What a frame means given the message in progress; nil for a fragment that is not last.
    private mutating func handle(fin: Bool, opcode: WebSocket.Opcode, payload: [UInt8]) -> Event? {
        switch opcode {
        case .ping:
            return .ping(payload)
        case .pong:
            return .pong(payload)
        case .close:
            return closeEvent(payload)
        case .text, .binary:
            guard fragmentOpcode == nil else {
                return .failure(code: WebSocket.CloseCode.protocolError, reason: "a new message began inside a fragmented one")
            }
            if fin { return message(opcode, payload) }
            fragmentOpcode = opcode
            fragments = payload
            return nil
        case .continuation:
            guard let first = fragmentOpcode else {
                return .failure(code: WebSocket.CloseCode.protocolError, reason: "a continuation frame without a message to continue")
            }
            fragments.append(contentsOf: payload)
            guard fin else { return nil }
            let whole = fragments
            fragmentOpcode = nil
            fragments = []
            return message(first, whole)
        }
    }

    private func message(_ opcode: WebSocket.Opcode, _ payload: [UInt8]) -> Event {
        guard opcode == .text else { return .binary(payload) }
        guard let text = String(validating: payload, as: UTF8.self) else {
            return .failure(code: WebSocket.CloseCode.invalidPayload, reason: "a text message that is not UTF-8")
        }
        return .text(text)
    }

    /// A close frame's body (5.5.1): nothing, or a 2-byte code a sender may use, then UTF-8.
    private func closeEvent(_ payload: [UInt8]) -> Event {
        if payload.isEmpty { return .close(code: nil, reason: "") }
        guard payload.count >= 2 else { return .failure(code: WebSocket.CloseCode.protocolError, reason: "a close frame with a 1-byte body") }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        guard Self.isSendableCloseCode(code) else {
            return .failure(code: WebSocket.CloseCode.protocolError, reason: "close code \(code) may not be sent")
        }
        guard let reason = String(validating: payload[2...], as: UTF8.self) else {
            return .failure(code: WebSocket.CloseCode.invalidPayload, reason: "a close reason that is not UTF-8")
        }
        return .close(code: code, reason: reason)
    }

    /// 7.4: 1000–1003 and 1007–1011 (1012–1014 registered since with IANA), and 3000–4999;
    /// 1004, 1005, 1006 and 1015 never appear on the wire.
    static func isSendableCloseCode(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }
}
