import Dispatch
import Foundation
import Support
import Synchronization

/// A small pool of connections for async code.
///
/// `withConnection` borrows a connection and runs the closure on that connection's serial
/// dispatch queue, off Swift's cooperative pool, so blocking libpq calls never stall other
/// tasks. One hop per borrow (not per statement): a transaction of several statements costs one
/// thread switch (~10 µs measured), so callers put a whole unit of work in one closure.
///
/// Broken connections (server restart, network loss) are noticed when borrowed or returned and
/// replaced by fresh ones; when PostgreSQL is down, borrowing throws a `.connection` error.
///
/// Cancellation is honoured: a task cancelled while it waits for a connection stops waiting
/// (`CancellationError`); one cancelled while its closure runs has the running statement
/// cancelled on the server (`PQcancel`), and if the closure has still not returned
/// `cancelGrace` later (a server that is stopped, or a network that drops everything) the
/// connection is cut (`Connection.abort`), so the closure returns with an error. Either way
/// the connection is then closed rather than lent again: a cancel request that arrived late
/// could otherwise hit the next borrower's statement.
public final class ConnectionPool: Sendable {
    public let url: String
    public let maxConnections: Int
    /// How long a cancelled borrow may take to return before its connection is cut.
    public let cancelGrace: TimeInterval
    private let applicationName: String
    private let settings: [String: String]
    private let limits: SessionLimits

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Connection?, any Error>
    }

    private struct State {
        var idle: [Connection] = []
        var open = 0
        var waiters: [Waiter] = []
        var nextWaiter: UInt64 = 0
        var closed = false
    }

    private let state = Mutex(State())

    /// `settings`: session settings every connection gets (see `Connection.connect`); `limits`:
    /// the timeouts and keepalives every connection carries (`SessionLimits`).
    public init(url: String, maxConnections: Int, applicationName: String = "tally", settings: [String: String] = [:],
                limits: SessionLimits = .defaults, cancelGrace: TimeInterval = 5) {
        self.settings = settings
        precondition(maxConnections > 0, "a pool needs at least one connection")
        self.url = url
        self.maxConnections = maxConnections
        self.applicationName = applicationName
        self.limits = limits
        self.cancelGrace = cancelGrace
    }

    /// Borrows a connection for the length of `body`, run on the connection's own thread.
    /// Cancelling the calling task cancels the statement running (see the type's notes).
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withConnection(timeout: nil, body)
    }

    /// The same, and `timeout` seconds after `body` started, it is cancelled as if its task
    /// had been (the statement running is cancelled, the connection cut `cancelGrace` later if
    /// that does not end it). For work that must end in time whatever the database does.
    public func withConnection<T: Sendable>(timeout: TimeInterval?, _ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        let connection = try await acquire()
        if Task.isCancelled {
            // Handed over by a returning borrower as the task was cancelled: unused, so clean.
            release(connection)
            throw CancellationError()
        }
        let borrow = Borrow(connection, grace: cancelGrace)
        if let timeout {
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(max(0, min(timeout, 1e6)) * 1e9))) {
                borrow.cancel()
            }
        }
        let result: Result<T, any Error> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                connection.queue.async {
                    let result = Result { try body(connection) }
                    borrow.ended()
                    continuation.resume(returning: result)
                }
            }
        } onCancel: {
            borrow.cancel()
        }
        if borrow.wasCancelled {
            // A cancel request may still reach the server after this; never lend it again.
            Log.debug("closing a connection whose borrow was cancelled", ["pid": connection.serverProcessID])
            discard()
        } else {
            release(connection)
        }
        return try result.get()
    }

    /// Runs `body` in a transaction on a borrowed connection.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withConnection { try $0.transaction(body) }
    }

    /// Closes idle connections and refuses new borrows. Borrowed ones close when returned.
    public func close() {
        let (idle, waiters) = state.withLock { s -> ([Connection], [Waiter]) in
            s.closed = true
            let idle = s.idle
            s.open -= idle.count
            s.idle.removeAll()
            let waiters = s.waiters
            s.waiters.removeAll()
            return (idle, waiters)
        }
        _ = idle  // released here: deinit calls PQfinish
        for w in waiters { w.continuation.resume(throwing: PostgresError(kind: .usage, message: "the connection pool is closed")) }
    }

    private enum Acquire {
        case connection(Connection)
        case connect
        case wait
    }

    private func acquire() async throws -> Connection {
        while true {
            try Task.checkCancellation()
            let decision = state.withLock { s -> Result<Acquire, PostgresError> in
                if s.closed { return .failure(PostgresError(kind: .usage, message: "the connection pool is closed")) }
                if let c = s.idle.popLast() { return .success(.connection(c)) }
                if s.open < maxConnections {
                    s.open += 1
                    return .success(.connect)
                }
                return .success(.wait)
            }
            switch try decision.get() {
            case .connection(let c):
                if c.isUsable { return c }
                discard()  // dropped while idle; try again (a fresh one will be made)
            case .connect:
                do {
                    return try await connect()
                } catch {
                    discard()
                    throw error
                }
            case .wait:
                // A returning borrower hands its connection over, or nil when it was broken
                // and the slot is free to connect a new one. A cancelled task stops waiting:
                // the handler runs after `isCancelled` is set, so either it finds the waiter
                // queued, or the check under the same lock below sees the cancellation.
                let id = state.withLock { s -> UInt64 in
                    s.nextWaiter += 1
                    return s.nextWaiter
                }
                let handed: Connection? = try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { continuation in
                        enum Now { case wait, retry, cancelled }
                        let now = state.withLock { s -> Now in
                            if s.closed { return .retry }
                            if Task.isCancelled { return .cancelled }
                            if s.open < maxConnections || !s.idle.isEmpty { return .retry }
                            s.waiters.append(Waiter(id: id, continuation: continuation))
                            return .wait
                        }
                        switch now {
                        case .wait: break
                        case .retry: continuation.resume(returning: nil)
                        case .cancelled: continuation.resume(throwing: CancellationError())
                        }
                    }
                } onCancel: {
                    let waiter = state.withLock { s -> Waiter? in
                        guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                        return s.waiters.remove(at: i)
                    }
                    waiter?.continuation.resume(throwing: CancellationError())
                }
                if let handed {
                    if handed.isUsable { return handed }
                    discard()
                }
            }
        }
    }

    private func connect() async throws -> Connection {
        let url = self.url
        let name = applicationName
        let settings = self.settings
        let limits = self.limits
        // A thread of its own, not a Dispatch queue: a connection attempt to a server that
        // accepts and never answers blocks for the whole connect timeout, and a few of those
        // on Dispatch's global pool (one thread per core here) left every timer and wake-up
        // queued behind them until libdispatch added threads, about one a second; a stop
        // with the database hanging ran seconds late that way.
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try Connection.connect(url, applicationName: name, settings: settings, limits: limits) })
            }
            thread.name = "tally.postgres.connect"
            thread.start()
        }
    }

    /// Forgets a connection that is broken or was dropped; wakes a waiter to connect anew.
    private func discard() {
        let waiter = state.withLock { s -> Waiter? in
            s.open -= 1
            return s.waiters.isEmpty ? nil : s.waiters.removeFirst()
        }
        waiter?.continuation.resume(returning: nil)
    }

    private func release(_ connection: Connection) {
        let usable = connection.isUsable && !connection.isInTransaction
        if !usable {
            discard()
            return
        }
        let waiter = state.withLock { s -> Waiter? in
            if s.closed {
                s.open -= 1
                return nil
            }
            if !s.waiters.isEmpty { return s.waiters.removeFirst() }
            s.idle.append(connection)
            return nil
        }
        waiter?.continuation.resume(returning: connection)
    }
}

/// One borrow's cancellation: `cancel()` (task cancelled, or the borrow's timeout) sends the
/// server a cancel request from a thread of its own (`PQcancel` blocks; never on Swift's
/// cooperative pool, where `onCancel` handlers and timers may run), then waits up to `grace`
/// for the closure to return and cuts the connection if it has not. The lock makes the cut
/// and the end of the closure exclusive: once `ended()` has run, the connection is the pool's
/// again and nothing here touches it.
private final class Borrow: Sendable {
    private struct State {
        var running = true
        var cancelled = false
    }

    private let connection: Connection
    private let grace: TimeInterval
    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)

    init(_ connection: Connection, grace: TimeInterval) {
        self.connection = connection
        self.grace = grace
    }

    /// True when `cancel()` came while the closure ran (the connection is not to be reused).
    var wasCancelled: Bool { state.withLock { $0.cancelled } }

    func ended() {
        state.withLock { $0.running = false }
        done.signal()
    }

    func cancel() {
        let first = state.withLock { s -> Bool in
            guard s.running, !s.cancelled else { return false }
            s.cancelled = true
            return true
        }
        guard first else { return }
        let thread = Thread { [self] in
            let sent = connection.requestCancel()
            if done.wait(timeout: .now() + .nanoseconds(Int(max(0, min(grace, 1e6)) * 1e9))) == .success { return }
            let cut = state.withLock { s -> Bool in
                guard s.running else { return false }
                connection.abort()
                return true
            }
            if cut {
                Log.warn("a cancelled database call did not end; cut its connection",
                         ["pid": connection.serverProcessID, "cancel_sent": sent, "grace_s": grace])
            }
        }
        thread.name = "tally.postgres.cancel"
        thread.start()
    }
}
