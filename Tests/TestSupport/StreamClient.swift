import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A raw TCP client for streaming responses: reads a head, then whatever the server sends,
/// waiting on `poll()` with deadlines (never a sleep). Driven by one test thread.
public final class StreamClient {
    public let fd: Int32
    /// Read and not yet consumed by a caller.
    public var received: [UInt8] = []
    public private(set) var sawEOF = false

    public struct Failure: Error, CustomStringConvertible { public let description: String }

    /// `receiveBuffer` (SO_RCVBUF, set before connecting so the window starts small) makes a
    /// client that never reads fill up fast.
    public init(port: UInt16, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else {
            let e = errno
            Glibc.close(fd)
            throw Failure(description: "connect failed: errno \(e)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { Glibc.close(fd) }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw Failure(description: "send failed: errno \(errno)") }
            offset += n
        }
    }

    /// Reads until `condition(received)` holds; false at end of stream or past the deadline.
    @discardableResult
    public func read(timeout: TimeInterval = 10, until condition: ([UInt8]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition(received) {
            guard !sawEOF, fill(until: deadline) else { return condition(received) }
        }
        return true
    }

    /// Reads until the server closes; false if it has not within `timeout`.
    public func waitForEOF(timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !sawEOF {
            guard fill(until: deadline) else { return sawEOF }
        }
        return true
    }

    /// The status and the (lowercased) headers of a response head; the head is consumed.
    public func readHead(timeout: TimeInterval = 10) throws -> (status: Int, headers: [String: String]) {
        let crlf2: [UInt8] = [13, 10, 13, 10]
        var end: Int?
        read(timeout: timeout) { r in
            guard r.count >= 4 else { return false }
            end = (0...(r.count - 4)).first { r[$0..<($0 + 4)].elementsEqual(crlf2) }
            return end != nil
        }
        guard let end else { throw Failure(description: "no response head in \(timeout)s (\(received.count) bytes)") }
        let lines = String(decoding: received[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        received.removeFirst(end + 4)
        let statusLine = lines[0].split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw Failure(description: "bad status line \(lines[0])") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, headers)
    }

    /// One read after waiting for input; false past the deadline or at end of stream.
    private func fill(until deadline: Date) -> Bool {
        let millis = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, millis) > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        if n > 0 {
            received.append(contentsOf: buffer[0..<n])
            return true
        }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return true }
        sawEOF = true  // 0, or a reset
        return false
    }
}
