import Support

/// An answer: status, headers, body. `Content-Length` and `Connection` are added when it is
/// written, unless it opens a stream.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [HTTPHeader]
    public var body: [UInt8]
    /// Close the connection after this answer (the request stream cannot be trusted).
    public var close: Bool
    /// nil for ordinary answers. Set, the connection becomes a long-lived stream after the head
    /// and `body` (Server-Sent Events, a WebSocket after `101`): see `StreamHandler`. `close`
    /// and the request's keep-alive are then ignored.
    public var stream: StreamHandler?

    public init(status: Int, headers: [HTTPHeader] = [], body: [UInt8] = [], close: Bool = false, stream: StreamHandler? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.close = close
        self.stream = stream
    }

    /// Compares status, headers, body and `close`, and whether a stream is attached; the
    /// stream's callbacks themselves cannot be compared (closures).
    public static func == (a: HTTPResponse, b: HTTPResponse) -> Bool {
        a.status == b.status && a.headers == b.headers && a.body == b.body && a.close == b.close
            && (a.stream == nil) == (b.stream == nil)
    }

    /// A JSON answer (`application/json`), serialised with sorted keys.
    public static func json(_ status: Int, _ value: JSON, headers: [HTTPHeader] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [HTTPHeader(name: "Content-Type", value: "application/json")] + headers,
                     body: Array(value.serialized.utf8))
    }

    public static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: [HTTPHeader(name: "Content-Type", value: contentType)], body: Array(text.utf8))
    }

    /// The bytes on the wire. A stream's head is only the status line and `headers` (no
    /// length: an event stream ends when the connection does; `keepAlive` is ignored).
    public func serialized(keepAlive: Bool) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(HTTPResponse.reason(status))\r\n"
        for h in headers { head += h.name + ": " + h.value + "\r\n" }
        if stream == nil {
            head += "Content-Length: \(body.count)\r\n"
            if !keepAlive { head += "Connection: close\r\n" }
        }
        head += "\r\n"
        var out = [UInt8]()
        out.reserveCapacity(head.utf8.count + body.count)
        out.append(contentsOf: head.utf8)
        out.append(contentsOf: body)
        return out
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 202: "Accepted"
        case 303: "See Other"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
