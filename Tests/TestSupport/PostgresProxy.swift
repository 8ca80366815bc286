import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 to the test cluster (its unix socket, from PGHOST and PGPORT),
/// which a test can cut to take PostgreSQL away from one process without stopping the
/// cluster every other test shares:
///
/// - `refuse()`: every connection is closed and the port stops listening, so connecting
///   fails at once with "connection refused" (a server that is down).
/// - `blackhole()`: connections stay open and new ones are accepted, but not a byte goes
///   through either way (a network that drops packets, a server that hangs): libpq blocks.
///
/// ```swift
/// let proxy = try PostgresProxy()
/// let worker = try TallyProcess(["worker"], environment: ["DATABASE_URL": proxy.url(database: db.name)])
/// proxy.blackhole()
/// ```
///
/// One thread and `poll()`, like FakeHTTPServer. A cut is in effect when the call returns.
public final class PostgresProxy: Sendable {
    public enum Mode: Sendable { case forwarding, refusing, blackholing }

    public let port: UInt16

    private let state: State

    private final class State: @unchecked Sendable {
        // @unchecked: every field is read and written under `lock`.
        let lock = NSLock()
        var mode = Mode.forwarding
        /// Bumped by the test for each change; the thread copies it to `applied` once done.
        var requested: UInt64 = 0
        var applied: UInt64 = 0
        var stopped = false

        func locked<T>(_ body: (State) -> T) -> T {
            lock.lock()
            defer { lock.unlock() }
            return body(self)
        }
    }

    public init() throws {
        guard let host = ProcessInfo.processInfo.environment["PGHOST"], host.hasPrefix("/") else {
            throw ProxyError("PGHOST is not a socket directory: run the tests with ops/test")
        }
        let upstream = host + "/.s.PGSQL." + (ProcessInfo.processInfo.environment["PGPORT"] ?? "5432")
        signal(SIGPIPE, SIG_IGN)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProxyError("socket() failed: errno \(errno)") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw ProxyError("bind/listen on 127.0.0.1 failed: errno \(errno)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: actual.sin_port)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let state = State()
        self.state = state
        let thread = Thread { Self.serve(listenFD: fd, upstream: upstream, state: state) }
        thread.name = "postgres-proxy-\(port)"
        thread.start()
    }

    deinit { state.locked { $0.stopped = true } }

    /// A libpq URL for `database` through the proxy (the user comes from PGUSER).
    public func url(database: String) -> String { "postgresql://127.0.0.1:\(port)/\(database)" }

    /// PostgreSQL is down: open connections are closed and new ones refused.
    public func refuse() { set(.refusing) }

    /// PostgreSQL hangs: connections stay open, new ones are accepted, nothing goes through.
    public func blackhole() { set(.blackholing) }

    private func set(_ mode: Mode) {
        let generation = state.locked { s -> UInt64 in
            s.mode = mode
            s.requested += 1
            return s.requested
        }
        // The thread applies it within one poll interval (20 ms).
        let deadline = Date().addingTimeInterval(5)
        while state.locked({ $0.applied < generation }) && Date() < deadline { usleep(1_000) }
    }

    // MARK: The proxy thread

    private struct Pair {
        var client: Int32
        /// -1 for connections accepted while blackholing (never connected upstream).
        var server: Int32
    }

    private static func serve(listenFD: Int32, upstream: String, state: State) {
        var listening: Int32? = listenFD
        var pairs: [Pair] = []
        func closeAll() {
            for p in pairs {
                close(p.client)
                if p.server >= 0 { close(p.server) }
            }
            pairs.removeAll()
        }
        defer {
            closeAll()
            if let l = listening { close(l) }
        }
        while true {
            let (mode, generation, stopped) = state.locked { ($0.mode, $0.requested, $0.stopped) }
            if stopped { return }
            if mode == .refusing {
                closeAll()
                if let l = listening { close(l) }
                listening = nil
            }
            state.locked { $0.applied = generation }
            var fds: [pollfd] = []
            if let l = listening { fds.append(pollfd(fd: l, events: Int16(POLLIN), revents: 0)) }
            if mode == .forwarding {
                for p in pairs {
                    fds.append(pollfd(fd: p.client, events: Int16(POLLIN), revents: 0))
                    fds.append(pollfd(fd: p.server, events: Int16(POLLIN), revents: 0))
                }
            }
            if poll(&fds, nfds_t(fds.count), 20) <= 0 { continue }
            let polled = mode == .forwarding ? pairs.count : 0
            if let l = listening, fds[0].revents != 0 {
                while true {
                    let client = accept(l, nil, nil)
                    if client < 0 { break }
                    if mode == .blackholing {
                        pairs.append(Pair(client: client, server: -1))
                    } else if let server = connectUnix(upstream) {
                        pairs.append(Pair(client: client, server: server))
                    } else {
                        close(client)
                    }
                }
            }
            guard mode == .forwarding else { continue }
            var dead: Set<Int> = []
            let first = listening == nil ? 0 : 1
            for (i, pair) in pairs.prefix(polled).enumerated() {
                let c = fds[first + 2 * i], s = fds[first + 2 * i + 1]
                if c.revents != 0 && !forward(from: pair.client, to: pair.server) { dead.insert(i) }
                if s.revents != 0 && !forward(from: pair.server, to: pair.client) { dead.insert(i) }
            }
            for i in dead.sorted(by: >) {
                close(pairs[i].client)
                close(pairs[i].server)
                pairs.remove(at: i)
            }
        }
    }

    /// Copies what is readable on `from` to `to`; false when either side is closed.
    private static func forward(from: Int32, to: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let got = recv(from, &buffer, buffer.count, 0)
        if got <= 0 { return false }
        var sent = 0
        while sent < got {
            let n = buffer[sent..<got].withUnsafeBytes { send(to, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    private static func connectUnix(_ path: String) -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            return nil
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard ok == 0 else {
            close(fd)
            return nil
        }
        return fd
    }
}

public struct ProxyError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
