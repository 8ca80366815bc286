import CSystem
import Foundation
import Glibc
import Synchronization

/// CLOCK_MONOTONIC in nanoseconds: the one clock of the stream bench (a commit's return and a
/// socket's delivery are both stamped with it, in this process).
func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Many Server-Sent Events clients of `/v1/stream` without a thread per stream: non-blocking
/// sockets to 127.0.0.1, all read by one thread's epoll loop, which stamps each `id: N` line
/// with the time its bytes came out of `recv`.
///
/// A client connects, sends its `GET`, checks the answer is 200, then reads lines; it keeps
/// only what the bench asks: the first id (the snapshot's, or a replay's first event), the last
/// id and when it came, and, for clients opened with `record`, every id with its time.
final class StreamClients: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        /// `socket()` failed for the file limit of this process.
        var fileLimit = false
    }

    private enum Phase { case connecting, head, streaming, done }

    /// One client; only touched with `state` locked.
    private final class Client {
        let fd: Int32
        let user: Int
        let request: [UInt8]
        let openedAt: UInt64
        var phase = Phase.connecting
        var head: [UInt8] = []
        /// The start of a line not yet ended, when it may be an `id:` line (those are short).
        var partial: [UInt8] = []
        /// In the middle of a line that is not an `id:` line.
        var skipping = false
        var firstID: Int64?
        var lastID: Int64 = -1
        var lastIDAt: UInt64 = 0
        var events: [(id: Int64, at: UInt64)]?

        init(fd: Int32, user: Int, request: [UInt8], openedAt: UInt64, record: Bool) {
            self.fd = fd
            self.user = user
            self.request = request
            self.openedAt = openedAt
            if record { events = [] }
        }
    }

    private struct State {
        var clients: [Int32: Client] = [:]
        /// Opened, no id line yet.
        var pending: Set<Int32> = []
        var opened = 0
        var ready = 0
        var failed = 0
        var failures: [String] = []
        var recording = false
    }

    /// What the bench reads of a recording client.
    struct Recorded: Sendable {
        let user: Int
        let firstID: Int64
        let events: [(id: Int64, at: UInt64)]
    }

    private let epollFD: Int32
    private let port: UInt16
    /// A client with no id line this long after it connected has failed.
    private let openTimeoutNanos: UInt64
    private let state = Mutex(State())
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    init(port: UInt16, openTimeout: TimeInterval = 10) {
        self.port = port
        openTimeoutNanos = UInt64(openTimeout * 1e9)
        epollFD = epoll_create1(0)
        let thread = Thread { [self] in loop() }
        thread.name = "stream-clients"
        thread.start()
    }

    /// Stops the reader and closes every client.
    func shutdown() {
        stopped.store(true, ordering: .releasing)
        finished.wait()
        state.withLock { s in
            for fd in s.clients.keys { close(fd) }
            s.clients.removeAll()
            s.pending.removeAll()
        }
        close(epollFD)
    }

    var counts: (opened: Int, ready: Int, failed: Int, inFlight: Int) {
        state.withLock { s in (s.opened, s.ready, s.failed, s.opened - s.ready - s.failed) }
    }

    var failures: [String] { state.withLock { $0.failures } }

    /// Recording clients keep every id from now on.
    func record(_ on: Bool) { state.withLock { $0.recording = on } }

    /// Connects a client for `user` (the bench's index) that sends `GET path`.
    @discardableResult
    func open(user: Int, path: String, record: Bool = false) throws(Failure) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else {
            let e = errno
            throw Failure(description: "socket() failed: errno \(e)", fileLimit: e == EMFILE || e == ENFILE)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 || errno == EINPROGRESS else {
            let e = errno
            close(fd)
            throw Failure(description: "connect() failed: errno \(e)")
        }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".utf8)
        let openedAt = monotonicNanos()
        state.withLock { s in
            // Made inside the lock: a client lives in the locked state only.
            s.clients[fd] = Client(fd: fd, user: user, request: request, openedAt: openedAt, record: record)
            s.pending.insert(fd)
            s.opened += 1
        }
        var ev = epoll_event()
        ev.events = EPOLLOUT.rawValue | EPOLLIN.rawValue
        ev.data.fd = fd
        _ = epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &ev)
        return fd
    }

    /// The client's last id and when its bytes were read (-1 before any).
    func last(_ fd: Int32) -> (id: Int64, at: UInt64, first: Int64?) {
        state.withLock { s in
            guard let c = s.clients[fd] else { return (-1, 0, nil) }
            return (c.lastID, c.lastIDAt, c.firstID)
        }
    }

    /// Every recording client's ids so far.
    func recorded() -> [Recorded] {
        state.withLock { s in
            s.clients.values.compactMap { c in
                guard let events = c.events, let first = c.firstID else { return nil }
                return Recorded(user: c.user, firstID: first, events: events)
            }
        }
    }

    // MARK: The reader thread

    private func loop() {
        var events = [epoll_event](repeating: epoll_event(), count: 512)
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var lastSweep = monotonicNanos()
        while !stopped.load(ordering: .acquiring) {
            let n = epoll_wait(epollFD, &events, Int32(events.count), 50)
            let now = monotonicNanos()
            state.withLock { s in
                for i in 0..<max(0, Int(n)) {
                    let fd = events[i].data.fd
                    guard let c = s.clients[fd] else { continue }
                    handle(c, flags: events[i].events, now: now, buffer: &buffer, &s)
                }
                if now - lastSweep > 100_000_000 {
                    lastSweep = now
                    for fd in s.pending {
                        guard let c = s.clients[fd], now - c.openedAt > openTimeoutNanos else { continue }
                        fail(c, "no event \(openTimeoutNanos / 1_000_000_000) s after connecting (phase \(c.phase))", &s)
                    }
                }
            }
        }
        finished.signal()
    }

    private func handle(_ c: Client, flags: UInt32, now: UInt64, buffer: inout [UInt8], _ s: inout State) {
        if c.phase == .connecting {
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err != 0 { return fail(c, "connect failed: errno \(err)", &s) }
            guard flags & EPOLLOUT.rawValue != 0 else { return }
            let sent = c.request.withUnsafeBytes { send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent == c.request.count else { return fail(c, "send of the request failed: \(sent), errno \(errno)", &s) }
            var ev = epoll_event()
            ev.events = EPOLLIN.rawValue
            ev.data.fd = c.fd
            _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, c.fd, &ev)
            c.phase = .head
            return
        }
        // Reads until the socket is empty (a replay sends megabytes).
        while c.phase != .done {
            let n = buffer.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.withUnsafeBufferPointer { consume(c, UnsafeBufferPointer(rebasing: $0[0..<n]), now: now, &s) }
                if n < buffer.count { return }
            } else if n == 0 {
                return fail(c, "the ingress closed the stream (last id \(c.lastID))", &s)
            } else {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
                return fail(c, "recv failed: errno \(errno)", &s)
            }
        }
    }

    private func consume(_ c: Client, _ bytes: UnsafeBufferPointer<UInt8>, now: UInt64, _ s: inout State) {
        var body = bytes[...]
        if c.phase == .head {
            c.head += bytes
            guard let end = c.head.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
            let headText = String(decoding: c.head[..<end.lowerBound], as: UTF8.self)
            let status = headText.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            guard status == 200 else {
                return fail(c, "status \(status): \(String(decoding: c.head[end.upperBound...].prefix(200), as: UTF8.self))", &s)
            }
            let consumedBefore = c.head.count - bytes.count
            body = bytes[(end.upperBound - consumedBefore)...]
            c.head = []
            c.phase = .streaming
        }
        guard let base = body.base.baseAddress else { return }
        var start = body.startIndex
        let end = body.endIndex
        while start < end {
            let remaining = end - start
            guard let nl = memchr(base + start, 0x0A, remaining) else {
                // An unfinished line: keep it only while it may be an `id:` line.
                if !c.skipping {
                    c.partial.append(contentsOf: UnsafeBufferPointer(start: base + start, count: remaining))
                    if !Self.mayBeID(c.partial) {
                        c.partial.removeAll(keepingCapacity: true)
                        c.skipping = true
                    }
                }
                return
            }
            let lineEnd = UnsafePointer(nl.assumingMemoryBound(to: UInt8.self)) - base
            if !c.skipping {
                if c.partial.isEmpty {
                    line(c, UnsafeBufferPointer(start: base + start, count: lineEnd - start), now: now, &s)
                } else {
                    c.partial.append(contentsOf: UnsafeBufferPointer(start: base + start, count: lineEnd - start))
                    let whole = c.partial
                    c.partial.removeAll(keepingCapacity: true)
                    whole.withUnsafeBufferPointer { line(c, $0, now: now, &s) }
                }
            }
            c.skipping = false
            start = lineEnd + 1
        }
    }

    private static let idPrefix = Array("id: ".utf8)

    private static func mayBeID(_ partial: [UInt8]) -> Bool {
        partial.count < 32 && zip(partial, idPrefix).allSatisfy { $0 == $1 }
    }

    private func line(_ c: Client, _ text: UnsafeBufferPointer<UInt8>, now: UInt64, _ s: inout State) {
        guard text.count > 4, text[0] == 0x69, text[1] == 0x64, text[2] == 0x3A, text[3] == 0x20 else { return }
        var id: Int64 = 0
        for b in text[4...] {
            guard b >= 0x30 && b <= 0x39 else { break }
            id = id * 10 + Int64(b - 0x30)
        }
        if c.firstID == nil {
            c.firstID = id
            s.pending.remove(c.fd)
            s.ready += 1
        }
        c.lastID = id
        c.lastIDAt = now
        if s.recording { c.events?.append((id, now)) }
    }

    private func fail(_ c: Client, _ why: String, _ s: inout State) {
        guard c.phase != .done else { return }
        c.phase = .done
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, c.fd, nil)
        close(c.fd)
        s.clients[c.fd] = nil
        if s.pending.remove(c.fd) != nil {
            s.failed += 1
        } else {
            s.ready -= 1
            s.failed += 1
        }
        if s.failures.count < 10 { s.failures.append("client of user \(c.user): \(why)") }
    }
}
