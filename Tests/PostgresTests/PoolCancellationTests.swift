import Foundation
import Postgres
import Support
import TestSupport
import XCTest

/// Cancelling a task cancels what it does on the pool: the statement running (PQcancel), the
/// wait for a connection, and, when the server does not answer even that, the connection.
final class PoolCancellationTests: XCTestCase {
    /// The pid of the backend running a statement containing `marker`, once it runs.
    func backend(running marker: String, in db: TestDatabase) async throws -> Int32 {
        var pid: Int32 = 0
        try await waitUntil("the statement \(marker) runs", timeout: 30) {
            guard let text = try db.scalar("""
                SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'
                AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()
                """, [marker]), let n = Int32(text) else { return false }
            pid = n
            return true
        }
        return pid
    }

    func testCancellingATaskCancelsItsStatementAndTheConnectionIsNotLentAgain() async throws {
        let db = try TestDatabase.create()
        let pool = db.pool(1)
        defer { pool.close() }
        let task = Task {
            try await pool.withConnection { c in try c.query("SELECT pg_sleep(60) AS cancel_me_1") }
        }
        let pid = try await backend(running: "cancel_me_1", in: db)
        let start = Date()
        task.cancel()
        let result = await task.result
        XCTAssertLessThan(Date().timeIntervalSince(start), 10, "ended by the cancel, not by the sleep")
        switch result {
        case .success: XCTFail("the statement was not cancelled")
        case .failure(let error): XCTAssertEqual((error as? PostgresError)?.sqlState, "57014", "query_canceled: \(error)")
        }
        // The pool's one slot is free again, with a fresh connection.
        let next = try await pool.withConnection { c in c.serverProcessID }
        XCTAssertNotEqual(next, pid, "the cancelled borrow's connection was closed, not lent again")
        try await waitUntil("the old backend has gone") {
            try db.int("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [Int64(pid)]) == 0
        }
    }

    func testATaskWaitingForAConnectionStopsWaitingWhenCancelled() async throws {
        let db = try TestDatabase.create()
        let pool = db.pool(1)
        defer { pool.close() }
        let holder = Task {
            try await pool.withConnection { c in try c.query("SELECT pg_sleep(60) AS cancel_me_2") }
        }
        _ = try await backend(running: "cancel_me_2", in: db)
        let waiting = Task { try await pool.withConnection { c in c.serverProcessID } }
        let start = Date()
        waiting.cancel()
        let result = await waiting.result
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertThrowsError(try result.get()) { XCTAssertTrue($0 is CancellationError, "\($0)") }
        holder.cancel()
        _ = await holder.result
        let pid = try await pool.withConnection { c in c.serverProcessID }
        XCTAssertGreaterThan(pid, 0, "the pool still lends connections")
    }

    /// A backend that is stopped (SIGSTOP) answers neither the statement nor the cancel
    /// request: after the grace period the connection is cut and the borrow ends in an error.
    func testATimedOutBorrowOnAStoppedServerIsCutAfterTheGrace() async throws {
        let db = try TestDatabase.create()
        let pool = ConnectionPool(url: db.url, maxConnections: 1, cancelGrace: 0.5)
        defer { pool.close() }
        let start = Date()
        let task = Task {
            try await pool.withConnection(timeout: 2) { c in try c.query("SELECT pg_sleep(60) AS stop_me_3") }
        }
        let pid = try await backend(running: "stop_me_3", in: db)
        XCTAssertEqual(kill(pid, SIGSTOP), 0)
        defer { kill(pid, SIGCONT) }
        let result = await task.result
        let took = Date().timeIntervalSince(start)
        XCTAssertGreaterThanOrEqual(took, 2, "not before the timeout")
        XCTAssertLessThan(took, 15, "the timeout (2 s) plus the grace (0.5 s), well before the statement_timeout")
        XCTAssertThrowsError(try result.get()) { XCTAssertEqual(($0 as? PostgresError)?.kind, .connection, "\($0)") }
        let next = try await pool.withConnection { c in c.serverProcessID }
        XCTAssertNotEqual(next, pid, "a fresh connection")
        kill(pid, SIGCONT)
        try await waitUntil("the stopped backend, continued, has gone") {
            try db.int("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [Int64(pid)]) == 0
        }
    }
}
