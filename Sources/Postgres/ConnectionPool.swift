import Dispatch
import Foundation
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
public final class ConnectionPool: Sendable {
    public let url: String
    public let maxConnections: Int
    private let applicationName: String
    private let settings: [String: String]

    private struct State {
        var idle: [Connection] = []
        var open = 0
        var waiters: [CheckedContinuation<Connection?, any Error>] = []
        var closed = false
    }

    private let state = Mutex(State())

    /// `settings`: session settings every connection gets (see `Connection.connect`).
    public init(url: String, maxConnections: Int, applicationName: String = "tally", settings: [String: String] = [:]) {
        self.settings = settings
        precondition(maxConnections > 0, "a pool needs at least one connection")
        self.url = url
        self.maxConnections = maxConnections
        self.applicationName = applicationName
    }

    /// Borrows a connection for the length of `body`, run on the connection's own thread.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        let connection = try await acquire()
        let result: Result<T, any Error> = await withCheckedContinuation { continuation in
            connection.queue.async {
                continuation.resume(returning: Result { try body(connection) })
            }
        }
        release(connection)
        return try result.get()
    }

    /// Runs `body` in a transaction on a borrowed connection.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withConnection { try $0.transaction(body) }
    }

    /// Closes idle connections and refuses new borrows. Borrowed ones close when returned.
    public func close() {
        let (idle, waiters) = state.withLock { s -> ([Connection], [CheckedContinuation<Connection?, any Error>]) in
            s.closed = true
            let idle = s.idle
            s.open -= idle.count
            s.idle.removeAll()
            let waiters = s.waiters
            s.waiters.removeAll()
            return (idle, waiters)
        }
        _ = idle  // released here: deinit calls PQfinish
        for w in waiters { w.resume(throwing: PostgresError(kind: .usage, message: "the connection pool is closed")) }
    }

    private enum Acquire {
        case connection(Connection)
        case connect
        case wait
    }

    private func acquire() async throws -> Connection {
        while true {
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
                // and the slot is free to connect a new one.
                let handed: Connection? = try await withCheckedThrowingContinuation { continuation in
                    let resumeNow = state.withLock { s -> Bool in
                        if s.closed { return true }
                        if s.open < maxConnections || !s.idle.isEmpty { return true }
                        s.waiters.append(continuation)
                        return false
                    }
                    if resumeNow { continuation.resume(returning: nil) }
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
        // A thread of its own, not a Dispatch queue: a connection attempt to a server that
        // accepts and never answers blocks for the whole connect timeout, and a few of those
        // on Dispatch's global pool (one thread per core here) left every timer and wake-up
        // queued behind them until libdispatch added threads, about one a second; a stop
        // with the database hanging ran seconds late that way.
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try Connection.connect(url, applicationName: name, settings: settings) })
            }
            thread.name = "tally.postgres.connect"
            thread.start()
        }
    }

    /// Forgets a connection that is broken or was dropped; wakes a waiter to connect anew.
    private func discard() {
        let waiter = state.withLock { s -> CheckedContinuation<Connection?, any Error>? in
            s.open -= 1
            return s.waiters.isEmpty ? nil : s.waiters.removeFirst()
        }
        waiter?.resume(returning: nil)
    }

    private func release(_ connection: Connection) {
        let usable = connection.isUsable && !connection.isInTransaction
        if !usable {
            discard()
            return
        }
        let waiter = state.withLock { s -> CheckedContinuation<Connection?, any Error>? in
            if s.closed {
                s.open -= 1
                return nil
            }
            if !s.waiters.isEmpty { return s.waiters.removeFirst() }
            s.idle.append(connection)
            return nil
        }
        waiter?.resume(returning: connection)
    }
}
