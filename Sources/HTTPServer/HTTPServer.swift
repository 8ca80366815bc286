import Foundation
import Support
import Synchronization

/// An HTTP/1.1 server on POSIX sockets: one `EventLoop` thread per core, each with its own
/// listening socket on the same port (SO_REUSEPORT: the kernel spreads new connections over
/// the loops, where one shared socket let the first loop to wake take a whole burst of
/// connections). A loop never blocks: it parses requests and hands each to `handler`, an
/// async function whose task runs on that loop's own thread (a task executor preference) while
/// it does not wait; database work runs on the connection pool's threads, and the answer comes
/// back through the loop's mailbox.
public final class HTTPServer: Sendable {
    public typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse

    public let config: ServerConfig
    private let loops: [EventLoop]
    /// The bound port (the one the kernel picked when the config said 0).
    public let port: UInt16

    /// `refused` is told the status of each request refused by the parser (for metrics).
    public init(config: ServerConfig, handler: @escaping Handler, refused: @escaping @Sendable (Int) -> Void = { _ in }) throws {
        self.config = config
        signal(SIGPIPE, SIG_IGN)
        var sockets: [Int32] = []
        var port = config.port
        do {
            for _ in 0..<max(1, config.threads) {
                let fd = try HTTPServer.listenSocket(host: config.host, port: port, setting: config.listenSetting)
                sockets.append(fd)
                if port == 0 { port = try HTTPServer.boundPort(fd) }
            }
        } catch {
            for fd in sockets { close(fd) }
            throw error
        }
        self.port = port
        let counter = Counter()
        let clients = ClientConnections()
        loops = sockets.enumerated().map { i, fd in
            EventLoop(index: i, listenFD: fd, config: config, handler: handler, refused: refused, open: counter, clients: clients)
        }
    }

    /// Starts the loop threads.
    public func start() {
        for loop in loops { loop.start() }
    }

    /// Stops accepting, lets requests in flight be answered (up to `grace`), closes the rest.
    public func stop(grace: TimeInterval = 10) {
        for loop in loops { loop.requestStop(grace: grace) }
        for loop in loops { loop.waitStopped() }
    }

    public var connectionCount: Int { loops.first?.open.value ?? 0 }

    // MARK: Sockets

    static func listenSocket(host: String, port: UInt16, setting: String) throws -> Int32 {
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        let isV6 = host.contains(":")
        if isV6 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 else { throw ServerError("\(setting) host \(host) is not an IPv6 address") }
        } else {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host, &v4.sin_addr) == 1 else { throw ServerError("\(setting) host \(host) is not an IPv4 address") }
        }
        let fd = socket(isV6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError("socket() failed: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound: Int32 = isV6
            ? withUnsafePointer(to: &v6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
            : withUnsafePointer(to: &v4) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else {
            let e = errno
            close(fd)
            throw ServerError("cannot listen on \(host):\(port): \(String(cString: strerror(e))) (is another process using the port? set \(setting))")
        }
        guard listen(fd, 1024) == 0 else {
            close(fd)
            throw ServerError("listen() failed: errno \(errno)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }

    static func boundPort(_ fd: Int32) throws -> UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        guard ok == 0 else { throw ServerError("getsockname() failed: errno \(errno)") }
        if Int32(storage.ss_family) == AF_INET6 {
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) } }
        }
        return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) } }
    }
}

/// A count shared by the loops (open connections, for the cap).
final class Counter: Sendable {
    private let atomic = Atomic<Int>(0)
    var value: Int { atomic.load(ordering: .relaxed) }
    /// Adds one unless that would pass `limit`; false when full.
    func tryIncrement(limit: Int) -> Bool {
        var current = atomic.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = atomic.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }
    func decrement() { atomic.subtract(1, ordering: .relaxed) }
}
