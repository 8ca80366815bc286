import Support

/// How a stream's events are written: Server-Sent Events, or WebSocket text frames
/// `{"event": <type>, "data": {...}}` (DESIGN.md, "SSE", "WebSocket").
public enum StreamFormat: Sendable {
    case sse
    /// `frame` wraps a text payload in a WebSocket frame (the server's codec).
    case webSocket(frame: @Sendable ([UInt8]) -> [UInt8], ping: [UInt8])

    /// An event: SSE `id: <id>\nevent: <name>\ndata: <json>\n\n`.
    public func event(_ name: String, id: Int64?, data: JSON) -> [UInt8] {
        switch self {
        case .sse:
            var text = ""
            if let id { text += "id: \(id)\n" }
            text += "event: \(name)\ndata: \(data.serialized)\n\n"
            return Array(text.utf8)
        case .webSocket(let frame, _):
            return frame(Array(JSON.object(["event": .string(name), "data": data]).serialized.utf8))
        }
    }

    /// What opens the stream before any event: SSE's reconnection delay.
    public var preamble: [UInt8] {
        switch self {
        case .sse: Array("retry: 2000\n\n".utf8)
        case .webSocket: []
        }
    }

    /// Keeps proxies from closing an idle stream: an SSE comment, a WebSocket ping.
    public var ping: [UInt8] {
        switch self {
        case .sse: Array(": ping\n\n".utf8)
        case .webSocket(_, let ping): ping
        }
    }
}
