import Foundation
import Postgres
import TestSupport
import XCTest

/// `TALLY_DB_PREPARED=off` (transaction pooling): the limits hold in every transaction and in
/// every statement on its own, and never become session state a pooler would hand to another
/// client's transactions.
final class PooledSessionTests: XCTestCase {
    func testLimitsApplyPerTransactionAndNeverToTheSession() throws {
        let db = try TestDatabase.create()
        let limits = SessionLimits(statementTimeout: 1.5, lockTimeout: 0.7, idleInTransactionTimeout: 9, tcpTimeout: 30, preparedStatements: false)
        let c = try Connection.connect(db.url, settings: ["plan_cache_mode": "force_custom_plan"], limits: limits)
        // A statement on its own, named (which would be prepared when prepared statements are on).
        XCTAssertEqual(try c.query(Query("pooled_show", "SHOW statement_timeout")).first?.raw(at: 0), "1500ms")
        XCTAssertEqual(try c.query(Query("pooled_show", "SHOW statement_timeout")).first?.raw(at: 0), "1500ms")
        let inside = try c.transaction { tx in
            [try tx.query("SHOW lock_timeout").first?.raw(at: 0), try tx.query("SHOW idle_in_transaction_session_timeout").first?.raw(at: 0),
             try tx.query("SHOW plan_cache_mode").first?.raw(at: 0)]
        }
        XCTAssertEqual(inside, ["700ms", "9s", "force_custom_plan"])
        // Nothing was prepared by name.
        XCTAssertEqual(try c.query("SELECT count(*) FROM pg_prepared_statements").first?.raw(at: 0), "0")
        // The session itself kept the server's defaults: a hand-written BEGIN gets no settings.
        try c.execute("BEGIN")
        XCTAssertEqual(try c.query("SHOW statement_timeout").first?.raw(at: 0), "0")
        XCTAssertEqual(try c.query("SHOW plan_cache_mode").first?.raw(at: 0), "auto")
        try c.execute("COMMIT")
        // The limit works, errors come back as they are, and the connection stays usable.
        XCTAssertThrowsError(try c.query("SELECT pg_sleep(5)")) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "57014", "\(error)")
        }
        XCTAssertThrowsError(try c.query("SELEC 1")) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "42601", "\(error)")
        }
        XCTAssertThrowsError(try c.transaction { tx in try tx.query("SELECT 1/0") }) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "22012", "\(error)")
        }
        XCTAssertFalse(c.isInTransaction)
        XCTAssertEqual(try c.query("SELECT $1::int + 1", [41]).first?.raw(at: 0), "42")
        // With prepared statements (the default), the limits are the session's, from the startup options.
        let direct = try Connection.connect(db.url, limits: SessionLimits(statementTimeout: 1.5, lockTimeout: 0.7, idleInTransactionTimeout: 9, tcpTimeout: 30))
        try direct.execute("BEGIN")
        XCTAssertEqual(try direct.query("SHOW statement_timeout").first?.raw(at: 0), "1500ms")
        try direct.execute("COMMIT")
    }
}
