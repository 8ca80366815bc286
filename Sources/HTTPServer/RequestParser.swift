/// An incremental HTTP/1.x request parser: a plain value with no sockets, so it is unit tested
/// and fuzzed (ops/fuzz) on its own.
///
/// Feed it the bytes received so far on a connection (`parse(_:)`); it answers `needMore`, a
/// whole request with the number of bytes it used (pipelined bytes after it stay with the
/// caller), `continueExpected` once when the client waits for `100 Continue`, or a failure with
/// the status to answer before closing. Strict on purpose, because its input is hostile:
/// CRLF line ends, token method and header names, origin-form targets, HTTP/1.0 and 1.1 only,
/// Host required on 1.1, no obsolete line folding, one Content-Length; a chunked body is
/// refused with 411 (ask for Content-Length) rather than half-supported, and Transfer-Encoding
/// together with Content-Length is refused (request smuggling).
public struct RequestParser: Sendable {
    public struct Limits: Sendable {
        /// Request line and headers, CRLFs included (DESIGN.md: 16 KiB, 431 past it).
        public var maxHeaderBytes: Int
        /// Header lines; a flood of tiny headers is refused like a large head.
        public var maxHeaderCount: Int
        /// The body (DESIGN.md: 1 MiB, 413 past it).
        public var maxBodyBytes: Int

        public init(maxHeaderBytes: Int = 16 * 1024, maxHeaderCount: Int = 100, maxBodyBytes: Int = 1 << 20) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaderCount = maxHeaderCount
            self.maxBodyBytes = maxBodyBytes
        }
    }

    /// Why a request was refused: the status, the error code of DESIGN.md and a message.
    public struct Failure: Error, Sendable, Equatable {
        public let status: Int
        public let code: String
        public let message: String

        static func bad(_ message: String) -> Failure { Failure(status: 400, code: "invalid_request", message: message) }
    }

    public enum Outcome: Sendable, Equatable {
        case needMore
        /// The head is complete, asks `Expect: 100-continue` and the body is not here yet: send
        /// `100 Continue` (answered once per request), then keep feeding.
        case continueExpected
        case request(HTTPRequest, consumed: Int)
        /// Answer `failure.status` and close the connection: the stream cannot be trusted.
        case failure(Failure)
    }

    public let limits: Limits
    /// Bytes at the start of the buffer already searched for the end of the head.
    private var scanned = 0
    /// The head, once parsed, while the body arrives.
    private var head: Head?
    private var continueAnswered = false

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Empty lines tolerated before a request line.
    public static let maxLeadingEmptyLines = 8

    /// Forgets the request just returned; call before parsing the bytes after it.
    public mutating func reset() {
        scanned = 0
        head = nil
        continueAnswered = false
    }

    public mutating func parse(_ buffer: [UInt8]) -> Outcome {
        buffer.withUnsafeBufferPointer { parse(bytes: $0) }
    }

    public mutating func parse(bytes: UnsafeBufferPointer<UInt8>) -> Outcome {
        if head == nil {
            // Empty lines before a request line are tolerated (RFC 9112, 2.2: "SHOULD ignore at
            // least one"), a few of them: without a bound a client could grow the buffer with
            // CRLFs for the whole request timeout, every read rescanning them.
            var lead = 0
            while lead + 1 < bytes.count, bytes[lead] == 13, bytes[lead + 1] == 10 {
                lead += 2
                if lead > 2 * Self.maxLeadingEmptyLines {
                    return .failure(.bad("more than \(Self.maxLeadingEmptyLines) empty lines before the request line"))
                }
            }
            guard let end = findHeadEnd(bytes, from: lead) else {
                // A head of the largest allowed size may still end with the next bytes
                // (its CRLFCRLF is not counted): refuse only when it no longer can.
                if bytes.count - lead >= limits.maxHeaderBytes + 4 {
                    return .failure(Failure(status: 431, code: "headers_too_large",
                                            message: "the request line and headers exceed \(limits.maxHeaderBytes) bytes"))
                }
                return .needMore
            }
            switch parseHead(UnsafeBufferPointer(rebasing: bytes[lead..<end]), start: lead, end: end + 4) {
            case .success(let h): head = h
            case .failure(let f): return .failure(f)
            }
        }
        guard let head else { return .needMore }
        let total = head.bodyStart + head.contentLength
        if bytes.count < total {
            if head.expectsContinue && !continueAnswered {
                continueAnswered = true
                return .continueExpected
            }
            return .needMore
        }
        var request = head.request
        request.body = Array(UnsafeBufferPointer(rebasing: bytes[head.bodyStart..<total]))
        reset()
        return .request(request, consumed: total)
    }

    // MARK: Internals

    private struct Head {
        var request: HTTPRequest
        var bodyStart: Int
        var contentLength: Int
        var expectsContinue: Bool
    }

    /// The index of the `\r\n\r\n` that ends the head, searching only new bytes, never past
    /// the header limit.
    private mutating func findHeadEnd(_ b: UnsafeBufferPointer<UInt8>, from lead: Int) -> Int? {
        let limit = min(b.count, lead + limits.maxHeaderBytes + 4)
        var i = max(scanned - 3, lead)
        while i + 3 < limit {
            if b[i + 3] != 10 {
                // The last byte of the pattern is not LF: no match can end before i + 4.
                i += b[i + 3] == 13 ? 1 : 4
                continue
            }
            if b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 { return i }
            i += 1
        }
        scanned = max(lead, limit)
        return nil
    }

    private func parseHead(_ h: UnsafeBufferPointer<UInt8>, start: Int, end: Int) -> Result<Head, Failure> {
        if h.count > limits.maxHeaderBytes {
            return .failure(Failure(status: 431, code: "headers_too_large",
                                    message: "the request line and headers exceed \(limits.maxHeaderBytes) bytes"))
        }
        // Request line: METHOD SP request-target SP HTTP-version
        var lineEnd = 0
        while lineEnd < h.count, h[lineEnd] != 13 { lineEnd += 1 }
        guard lineEnd == h.count || (lineEnd + 1 < h.count && h[lineEnd + 1] == 10) else {
            return .failure(.bad("the request line must end with CRLF"))
        }
        let line = UnsafeBufferPointer(rebasing: h[0..<lineEnd])
        guard let sp1 = line.firstIndex(of: 32) else { return .failure(.bad("malformed request line")) }
        guard let sp2 = line[(sp1 + 1)...].firstIndex(of: 32) else { return .failure(.bad("malformed request line")) }
        let methodBytes = line[0..<sp1]
        let targetBytes = line[(sp1 + 1)..<sp2]
        let versionBytes = line[(sp2 + 1)...]
        guard !methodBytes.isEmpty, methodBytes.count <= 20, methodBytes.allSatisfy(Self.isToken) else {
            return .failure(.bad("malformed method in the request line"))
        }
        guard targetBytes.first == UInt8(ascii: "/"), targetBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .failure(.bad("the request target must be a path starting with /"))
        }
        let http11: Bool
        if versionBytes.elementsEqual("HTTP/1.1".utf8) {
            http11 = true
        } else if versionBytes.elementsEqual("HTTP/1.0".utf8) {
            http11 = false
        } else {
            return .failure(.bad("only HTTP/1.0 and HTTP/1.1 are served"))
        }
        let method = String(decoding: methodBytes, as: UTF8.self)
        let target = String(decoding: targetBytes, as: UTF8.self)
        var path = target
        var query: String?
        if let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = String(target[..<q])
            query = String(target[target.index(after: q)...])
        }

        // Header lines.
        var headers: [HTTPHeader] = []
        var contentLength: Int?
        var transferEncoding = false
        var connectionClose = false
        var connectionKeepAlive = false
        var expectsContinue = false
        var hasHost = false
        var i = lineEnd + 2
        while i < h.count {
            var e = i
            while e < h.count, h[e] != 13 { e += 1 }
            guard e == h.count || (e + 1 < h.count && h[e + 1] == 10) else { return .failure(.bad("header lines must end with CRLF")) }
            let headerLine = UnsafeBufferPointer(rebasing: h[i..<e])
            i = e + 2
            guard headers.count < limits.maxHeaderCount else {
                return .failure(Failure(status: 431, code: "headers_too_large", message: "more than \(limits.maxHeaderCount) header lines"))
            }
            guard let colon = headerLine.firstIndex(of: UInt8(ascii: ":")) else {
                return .failure(.bad(headerLine.first == 32 || headerLine.first == 9
                                     ? "folded header lines are not accepted" : "a header line has no ':'"))
            }
            let nameBytes = headerLine[..<colon]
            guard !nameBytes.isEmpty, nameBytes.allSatisfy(Self.isToken) else {
                return .failure(.bad("malformed header name"))
            }
            var vs = colon + 1
            var ve = headerLine.count
            while vs < ve, headerLine[vs] == 32 || headerLine[vs] == 9 { vs += 1 }
            while ve > vs, headerLine[ve - 1] == 32 || headerLine[ve - 1] == 9 { ve -= 1 }
            let valueBytes = headerLine[vs..<ve]
            guard valueBytes.allSatisfy({ $0 == 9 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                return .failure(.bad("control character in a header value"))
            }
            let name = String(decoding: nameBytes.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
            let value = String(decoding: valueBytes, as: UTF8.self)
            switch name {
            case "content-length":
                guard !valueBytes.isEmpty, valueBytes.count <= 18, valueBytes.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(value) else {
                    return .failure(.bad("Content-Length must be a decimal number"))
                }
                if let previous = contentLength, previous != n { return .failure(.bad("conflicting Content-Length headers")) }
                contentLength = n
            case "transfer-encoding":
                transferEncoding = true
            case "connection":
                for token in value.lowercased().split(separator: ",") {
                    let t = token.trimmingSpaces
                    if t == "close" { connectionClose = true }
                    if t == "keep-alive" { connectionKeepAlive = true }
                }
            case "expect":
                if value.lowercased() == "100-continue" { expectsContinue = true }
            case "host":
                if hasHost { return .failure(.bad("more than one Host header")) }
                hasHost = true
            default:
                break
            }
            headers.append(HTTPHeader(name: name, value: value))
        }
        if http11 && !hasHost { return .failure(.bad("HTTP/1.1 requests need a Host header")) }
        if transferEncoding {
            if contentLength != nil { return .failure(.bad("Transfer-Encoding and Content-Length together are refused")) }
            return .failure(Failure(status: 411, code: "length_required",
                                    message: "send the body with a Content-Length header; chunked request bodies are not accepted"))
        }
        let length = contentLength ?? 0
        if length > limits.maxBodyBytes {
            return .failure(Failure(status: 413, code: "payload_too_large", message: "the body exceeds \(limits.maxBodyBytes) bytes"))
        }
        let keepAlive = http11 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        let request = HTTPRequest(method: method, path: path, query: query, headers: headers, body: [], keepAlive: keepAlive)
        return .success(Head(request: request, bodyStart: end, contentLength: length, expectsContinue: expectsContinue && length > 0))
    }

    /// RFC 9110 token characters (method and header names).
    static func isToken(_ c: UInt8) -> Bool {
        switch c {
        case 48...57, 65...90, 97...122: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }
}

extension Substring {
    /// Without HTTP's optional white space (spaces and tabs) at either end: header values, and
    /// the lists inside them.
    public var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}
