import Foundation
import Postgres
import Support
import TestSupport
import XCTest

final class ConnectionTests: XCTestCase {
    func testParametersAndTypedRows() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let row = try XCTUnwrap(c.query("SELECT $1::bigint AS n, $2::text AS s, $3::boolean AS b, $4::jsonb AS j, $5::text AS nothing, $6::bigint[] AS ids",
                                        [Int64.max, "it's \"quoted\"", true, JSON.object(["k": "v"]), SQLNull(), [Int64(1), 2, 3]]).first)
        XCTAssertEqual(try row.int64("n"), Int64.max)
        XCTAssertEqual(try row.string("s"), "it's \"quoted\"")
        XCTAssertEqual(try row.bool("b"), true)
        XCTAssertEqual(try row.json("j")["k"]?.string, "v")
        XCTAssertNil(try row.optString("nothing"))
        XCTAssertThrowsError(try row.string("nothing"), "NULL in a required column")
        XCTAssertEqual(try row.int64Array("ids"), [1, 2, 3])
        XCTAssertThrowsError(try row.int64("missing_column"))
    }

    func testInjectionAttemptsStayValues() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let evil = "x'); DROP TABLE jobs; --"
        let strings: [String?] = [evil, "a,b", "{}", nil, "\\"]
        let row = try XCTUnwrap(c.query("SELECT $1::text AS s, $2::text[] AS a", [evil, strings]).first)
        XCTAssertEqual(try row.string("s"), evil)
        XCTAssertEqual(try row.stringArray("a"), strings)
        XCTAssertEqual(try db.int("SELECT count(*) FROM pg_tables WHERE tablename = 'jobs'"), 1)
    }

    func testErrorsCarrySQLStateAndTransactionsRollBack() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try c.execute("CREATE TABLE t (id int PRIMARY KEY)")
        XCTAssertThrowsError(try c.transaction { tx in
            try tx.query("INSERT INTO t VALUES (1)")
            try tx.query("INSERT INTO t VALUES (1)")
        }) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "23505")
            XCTAssertTrue((error as? PostgresError)?.isUniqueViolation ?? false)
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM t"), 0, "the whole transaction rolled back")
        // A nested transaction is a savepoint: its failure leaves the outer work.
        try c.transaction { tx in
            try tx.query("INSERT INTO t VALUES (2)")
            _ = try? tx.transaction { inner in try inner.query("INSERT INTO t VALUES (2)") }
            try tx.query("INSERT INTO t VALUES (3)")
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM t"), 2)
        XCTAssertThrowsError(try c.query("SELEKT 1")) { XCTAssertEqual(($0 as? PostgresError)?.sqlState, "42601") }
    }

    func testOnCommitRunsAfterCommitOnlyAndAtOnceOutsideATransaction() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        var ran: [String] = []
        c.onCommit { ran.append("autocommit") }
        XCTAssertEqual(ran, ["autocommit"], "no transaction open: what was written is committed")
        try c.transaction { tx in
            tx.onCommit { ran.append("committed") }
            try tx.savepoint { sp in sp.onCommit { ran.append("inner") } }
            XCTAssertEqual(ran, ["autocommit"], "nothing runs before COMMIT")
        }
        XCTAssertEqual(ran, ["autocommit", "committed", "inner"])
        struct Abort: Error {}
        XCTAssertThrowsError(try c.transaction { tx in
            tx.onCommit { ran.append("rolled back") }
            throw Abort()
        })
        try c.transaction { _ in }
        XCTAssertEqual(ran, ["autocommit", "committed", "inner"], "dropped with the rollback")
    }

    func testPoolReplacesConnectionsTheServerDropped() async throws {
        let db = try TestDatabase.create()
        let pool = db.pool(2)
        let first = try await pool.withConnection { $0.serverProcessID }
        let admin = try db.connect()
        try admin.query("SELECT pg_terminate_backend($1)", [Int(first)])
        // The server may still be closing the socket when the backend leaves pg_stat_activity:
        // the property is that the pool soon hands out a fresh, working connection by itself.
        var failures = 0
        try await waitUntil("the pool hands out a fresh connection") {
            do {
                let pid = try await pool.withConnection { c -> Int32 in
                    _ = try c.query("SELECT 1")
                    return c.serverProcessID
                }
                return pid != first
            } catch {
                failures += 1
                return false
            }
        }
        XCTAssertLessThanOrEqual(failures, 1, "at most the borrow racing the termination fails")
        let n = try await pool.withConnection { try $0.query("SELECT 1 AS one").first?.int("one") }
        XCTAssertEqual(n, 1)
    }

    func testPoolLimitsConnectionsAndQueuesBorrowers() async throws {
        let db = try TestDatabase.create()
        let pool = db.pool(3)
        let pids = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<30 {
                group.addTask { try await pool.withConnection { c in
                    // Hold the connection a few milliseconds so borrowers queue for the 3 slots.
                    try c.query("SELECT count(*) FROM generate_series(1, 50000)")
                    return c.serverProcessID
                } }
            }
            var all = Set<Int32>()
            for try await pid in group { all.insert(pid) }
            return all
        }
        XCTAssertLessThanOrEqual(pids.count, 3)
    }

    func testListenerDeliversAndReconnects() async throws {
        let db = try TestDatabase.create()
        let received = LockedBox<[String]>([])
        let connects = LockedBox(0)
        let listener = Listener(url: db.url, channels: ["test_chan"], onConnect: { connects.mutate { $0 += 1 } }) { n in
            received.mutate { $0.append(n.payload) }
        }
        listener.start()
        defer { listener.stop() }
        try await waitUntil("listening") { listener.isConnected }
        let c = try db.connect()
        try c.query("SELECT pg_notify('test_chan', 'one')")
        try await waitUntil("the first notification arrives") { received.value == ["one"] }
        try c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tally-listener' AND datname = $1", [db.name])
        try await waitUntil("the listener reconnects") { connects.value >= 2 && listener.isConnected }
        try c.query("SELECT pg_notify('test_chan', 'two')")
        try await waitUntil("notifications arrive after reconnecting") { received.value == ["one", "two"] }
    }

    /// libpq waits for ever on a server that accepts a connection and never answers; an
    /// attempt gives up after `Connection.defaultConnectTimeout` instead, so a pool slot, a
    /// reconnect loop or a worker's shutdown is never held by one (issue 10).
    func testConnectingToAServerThatNeverAnswersGivesUpAtTheConnectTimeout() async throws {
        let db = try TestDatabase.create()
        let proxy = try PostgresProxy()
        let url = proxy.url(database: db.name)
        XCTAssertEqual(try Connection.connect(url).query("SELECT 1 AS one").first?.int("one"), 1, "the proxy forwards")
        proxy.blackhole()
        let outcome = LockedBox<(error: String, seconds: Double)?>(nil)
        // Its own thread: the attempt blocks, and before the fix it never returned.
        Thread.detachNewThread {
            let start = Date()
            let error: String
            do { _ = try Connection.connect(url); error = "connected" } catch let e { error = "\(e)" }
            outcome.mutate { $0 = (error, Date().timeIntervalSince(start)) }
        }
        let limit = Double(Connection.defaultConnectTimeout)
        try await waitUntil("the attempt gives up", timeout: limit + 5) { outcome.value != nil }
        let (error, seconds) = try XCTUnwrap(outcome.value)
        XCTAssertTrue(error.contains("timeout expired"), error)
        XCTAssertGreaterThanOrEqual(seconds, limit - 0.5)
        XCTAssertLessThan(seconds, limit + 2)
    }
}
