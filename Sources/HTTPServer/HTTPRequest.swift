import Support

/// One header line: the name lowercased (HTTP names are case-insensitive), the value trimmed.
public struct HTTPHeader: Sendable, Equatable {
    public let name: String
    public let value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A parsed HTTP/1.x request, with its whole body (the server never hands out half a request).
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The path as sent (percent-encoded), without the query.
    public var path: String
    /// The text after `?`, if any, still percent-encoded.
    public var query: String?
    public var headers: [HTTPHeader]
    /// The raw body bytes: signatures are computed over exactly these.
    public var body: [UInt8]
    /// HTTP/1.1 without `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`.
    public var keepAlive: Bool
    /// Where the connection came from (set by the server; nil in tests that build requests).
    public var peer: PeerAddress?

    public init(method: String, path: String, query: String? = nil, headers: [HTTPHeader] = [], body: [UInt8] = [], keepAlive: Bool = true) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.keepAlive = keepAlive
    }

    /// The first header named `name` (lowercase).
    public func header(_ name: String) -> String? {
        for h in headers where h.name == name { return h.value }
        return nil
    }

    /// Query parameters, percent-decoded (`+` is a space); nil for a malformed escape.
    public var queryItems: [String: String]? {
        guard let query, !query.isEmpty else { return [:] }
        var out: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = PercentDecoding.decode(parts[0], plusIsSpace: true),
                  let value = PercentDecoding.decode(parts.count > 1 ? parts[1] : "", plusIsSpace: true) else { return nil }
            out[name] = value
        }
        return out
    }
}

/// `%41` → `A`, validating that the result is UTF-8.
public enum PercentDecoding {
    public static func decode(_ text: some StringProtocol, plusIsSpace: Bool = false) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var it = Array(text.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%") {
                guard it.count >= 2, let v = Crypto.unhex(String(decoding: it.prefix(2), as: UTF8.self))?.first else { return nil }
                bytes.append(v)
                it = it.dropFirst(2)
            } else if b == UInt8(ascii: "+") && plusIsSpace {
                bytes.append(0x20)
            } else {
                bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
