import Foundation
import Support
import Synchronization

/// A dedicated LISTEN connection on its own thread.
///
/// The thread waits in `poll()` on the connection's socket (and a wake-up pipe for `stop()`),
/// so a notification is handed over within about a millisecond and an idle listener costs
/// nothing: no polling loop, and nothing on Swift's cooperative pool. When the connection
/// breaks it reconnects with backoff (100 ms doubling to 5 s), LISTENs again and calls
/// `onConnect`, because notifications sent while it was away are lost and subscribers must
/// look for what they missed.
public final class Listener: Sendable {
    public let channels: [String]
    private let url: String
    private let limits: SessionLimits
    private let onNotification: @Sendable (PostgresNotification) -> Void
    private let onConnect: @Sendable () -> Void
    private let wakePipe: (read: Int32, write: Int32)
    private let stopped = Atomic<Bool>(false)
    private let connected = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    /// - Parameters:
    ///   - channels: channel names (lowercase letters, digits and `_`); constants of the code.
    ///   - onNotification: called on the listener's thread; keep it short.
    ///   - onConnect: called on the listener's thread after every (re)connection.
    ///   - limits: the session's timeouts and keepalives (`SessionLimits`); the keepalives are
    ///     what notices a LISTEN connection the network dropped without a word.
    public init(url: String, channels: [String], limits: SessionLimits = .defaults, onConnect: @escaping @Sendable () -> Void = {},
                onNotification: @escaping @Sendable (PostgresNotification) -> Void) {
        for c in channels {
            precondition(!c.isEmpty && c.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 },
                         "channel names are code constants: [a-z0-9_]+")
        }
        self.url = url
        self.limits = limits
        self.channels = channels
        self.onNotification = onNotification
        self.onConnect = onConnect
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe() failed: \(errno)")
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        self.wakePipe = (fds[0], fds[1])
    }

    deinit {
        close(wakePipe.read)
        close(wakePipe.write)
    }

    /// True while LISTEN is established.
    public var isConnected: Bool { connected.load(ordering: .acquiring) }

    public func start() {
        let thread = Thread { [self] in run() }
        thread.name = "tally.listener"
        thread.start()
    }

    /// Stops the thread and closes the connection; returns once it has (true), or after
    /// `seconds` if the thread is still inside a connection attempt (false; it stops as soon
    /// as that ends, within the connect timeout), so a shutdown is never held by a database
    /// that does not answer.
    @discardableResult
    public func stop(waitingAtMost seconds: Double? = nil) -> Bool {
        if !stopped.exchange(true, ordering: .acquiringAndReleasing) {
            var byte: UInt8 = 1
            _ = write(wakePipe.write, &byte, 1)
        }
        guard let seconds else {
            done.wait()
            done.signal()  // for a later stop() too
            return true
        }
        guard done.wait(timeout: .now() + .nanoseconds(Int(max(0, seconds) * 1e9))) == .success else { return false }
        done.signal()
        return true
    }

    private func run() {
        var backoff = 0.1
        while !stopped.load(ordering: .acquiring) {
            do {
                let connection = try Connection.connect(url, applicationName: "tally-listener", limits: limits)
                for channel in channels { try connection.execute("LISTEN \(channel)") }
                connected.store(true, ordering: .releasing)
                backoff = 0.1
                onConnect()
                try loop(connection)
            } catch {
                connected.store(false, ordering: .releasing)
                if stopped.load(ordering: .acquiring) { break }
                Log.warn("listener disconnected, reconnecting", ["error": error, "retry_in_s": backoff])
                if waitForStop(seconds: backoff) { break }
                backoff = min(backoff * 2, 5)
            }
        }
        connected.store(false, ordering: .releasing)
        done.signal()
    }

    /// Waits on the socket until notifications arrive or `stop()` is called.
    private func loop(_ connection: Connection) throws {
        while !stopped.load(ordering: .acquiring) {
            var fds = [
                pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0),
            ]
            let n = poll(&fds, 2, -1)
            if n < 0 {
                if errno == EINTR { continue }
                throw PostgresError(kind: .connection, message: "poll() on the LISTEN socket failed: errno \(errno)")
            }
            if fds[1].revents != 0 { return }
            if fds[0].revents != 0 {
                for n in try connection.drainNotifications() { onNotification(n) }
            }
        }
    }

    /// Sleeps up to `seconds`, returning true early if stopped.
    private func waitForStop(seconds: Double) -> Bool {
        var fd = pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0)
        _ = poll(&fd, 1, Int32(seconds * 1000))
        return stopped.load(ordering: .acquiring)
    }
}
