import Dispatch
import Foundation
import Support

/// A tiny HTTP/1.1 client on a raw TCP socket, for tests that must send what a real client
/// never would (garbage request lines, header floods, a byte a second) and see exactly what
/// the server answers. Blocking, with timeouts: call it from synchronous tests, or through
/// `RawHTTPClient.run { ... }` from async ones (it then runs on a thread of its own, off Swift's
/// cooperative pool that an in-process server needs).
public final class RawHTTPClient: @unchecked Sendable {
    // @unchecked: one test thread drives a client at a time; the fd is a plain integer.
    public let fd: Int32
    private var pending: [UInt8] = []

    public struct Response: Sendable {
        public let status: Int
        /// Lowercased names.
        public let headers: [String: String]
        public let body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
        public var json: JSON? { try? JSON.parse(body) }
        /// The `error` code of a JSON error answer.
        public var errorCode: String? { json?["error"]?.string }
    }

    public struct ClientError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(port: UInt16, host: String = "127.0.0.1", timeout: TimeInterval = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "socket() failed: errno \(errno)") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &addr.sin_addr)
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else {
            let e = errno
            Foundation.close(fd)
            throw ClientError(description: "cannot connect to \(host):\(port): errno \(e)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        setTimeout(timeout)
    }

    deinit { Foundation.close(fd) }

    public func setTimeout(_ seconds: TimeInterval) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw ClientError(description: "send failed after \(offset) of \(bytes.count) bytes: errno \(errno)") }
            offset += n
        }
    }

    /// Reads one response (status line, headers, Content-Length body).
    public func readResponse() throws -> Response {
        while true {
            if let r = try parse() { return r }
            guard try fill() else {
                throw ClientError(description: "the server closed the connection before a whole response (\(pending.count) bytes)")
            }
        }
    }

    /// True when the server closed the connection (read returns end of stream) within the
    /// socket timeout; any bytes that arrive first are kept for `readResponse`.
    /// Waits up to `seconds` for the server to send something or close the connection; true
    /// when it did (nothing is read).
    public func waitForReadable(seconds: TimeInterval) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, Int32(seconds * 1000)) > 0
    }

    public func waitForClose() -> Bool {
        while true {
            do { if try !fill() { return true } } catch { return false }
        }
    }

    /// A whole request in one write, then its response.
    public func request(_ method: String, _ path: String, headers: [String: String] = [:], body: String? = nil) throws -> Response {
        try send(RawHTTPClient.format(method, path, headers: headers, body: body))
        return try readResponse()
    }

    public static func format(_ method: String, _ path: String, headers: [String: String] = [:], body: String? = nil) -> [UInt8] {
        format(method, path, headers: headers, body: body.map { Array($0.utf8) })
    }

    public static func format(_ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8]?) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: test\r\n"
        for (k, v) in headers.sorted(by: { $0.key < $1.key }) { head += "\(k): \(v)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + (body ?? [])
    }

    /// Runs blocking client work on a thread of its own, for async tests. Not on Dispatch's
    /// global queue: its width is the core count, and blocked test clients there starve the
    /// connection queues of the in-process server under test.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            Thread { c.resume(with: Result { try body() }) }.start()
        }
    }

    // MARK: Internals

    private func fill() throws -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 {
            pending.append(contentsOf: buffer[0..<n])
            return true
        }
        if n == 0 { return false }
        if errno == ECONNRESET { return false }
        throw ClientError(description: "no answer in time (errno \(errno)); \(pending.count) bytes pending")
    }

    private func parse() throws -> Response? {
        let crlf2: [UInt8] = [13, 10, 13, 10]
        guard pending.count >= 4, let end = (0...(pending.count - 4)).first(where: { pending[$0..<($0 + 4)].elementsEqual(crlf2) }) else { return nil }
        let head = String(decoding: pending[0..<end], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw ClientError(description: "bad status line in \(head)") }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        guard pending.count >= end + 4 + length else { return nil }
        let body = Array(pending[(end + 4)..<(end + 4 + length)])
        pending.removeFirst(end + 4 + length)
        if status == 100 { return try parse() }  // interim: the real answer follows
        return Response(status: status, headers: headers, body: body)
    }
}
