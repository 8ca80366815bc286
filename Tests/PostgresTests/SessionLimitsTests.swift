import Foundation
@testable import Postgres
import Support
import TestSupport
import XCTest

/// Every session carries statement_timeout, lock_timeout, idle_in_transaction_session_timeout
/// and TCP keepalives (DESIGN.md, "Limits everywhere"); what the connection string says wins.
final class SessionLimitsTests: XCTestCase {
    func show(_ c: Connection) throws -> [String] {
        try ["statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"].map { name in
            try XCTUnwrap(c.query(Query(adHoc: "SHOW \(name)")).first?.raw(at: 0))
        }
    }

    func testEveryConnectionAndPoolConnectionCarriesTheDefaultLimits() async throws {
        let db = try TestDatabase.create()
        XCTAssertEqual(try show(db.connect()), ["30s", "10s", "1min"])
        let pool = db.pool(1)
        let fromPool = try await pool.withConnection { c in
            try ["statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"].map { name in
                try c.query(Query(adHoc: "SHOW \(name)")).first!.raw(at: 0)!
            }
        }
        XCTAssertEqual(fromPool, ["30s", "10s", "1min"])
        pool.close()
    }

    func testLimitsComeFromTheEnvironmentAndZeroTurnsOneOff() throws {
        let db = try TestDatabase.create()
        let limits = try SessionLimits(environment: Environment([
            "TALLY_DB_STATEMENT_TIMEOUT": "2s", "TALLY_DB_LOCK_TIMEOUT": "250ms", "TALLY_DB_IDLE_IN_TRANSACTION_TIMEOUT": "0",
        ]))
        XCTAssertEqual(limits.tcpTimeout, 30, "unset: the default")
        XCTAssertEqual(try show(Connection.connect(db.url, limits: limits)), ["2s", "250ms", "0"])
    }

    func testABadValueIsAnErrorNamingTheSettingAndCommandsExit2() throws {
        for name in ["TALLY_DB_STATEMENT_TIMEOUT", "TALLY_DB_LOCK_TIMEOUT", "TALLY_DB_IDLE_IN_TRANSACTION_TIMEOUT", "TALLY_DB_TCP_TIMEOUT"] {
            XCTAssertThrowsError(try SessionLimits(environment: Environment([name: "soon"]))) { error in
                XCTAssertEqual((error as? ConfigurationError)?.setting, name)
            }
        }
        let db = try TestDatabase.create()
        let run = try TallyRun.run(["jobs", "list"], environment: ["DATABASE_URL": db.url, "TALLY_DB_LOCK_TIMEOUT": "-3s"])
        XCTAssertEqual(run.status, 2, run.stderr)
        XCTAssertTrue(run.stderr.contains("TALLY_DB_LOCK_TIMEOUT"), run.stderr)
    }

    func testValuesTheConnectionStringGivesWin() throws {
        let db = try TestDatabase.create()
        // A URL's options, percent-encoded: statement_timeout stays 5s, the others are added.
        let url = db.url + "?options=-c%20statement_timeout%3D5s"
        XCTAssertEqual(try show(Connection.connect(url)), ["5s", "10s", "1min"])
        // The key=value form, with two settings of its own kept as they are.
        let keyValue = "dbname=\(db.name) options='-clock_timeout=3s --idle-in-transaction-session-timeout=7s -c search_path=public'"
        let c = try Connection.connect(keyValue)
        XCTAssertEqual(try show(c), ["30s", "3s", "7s"])
        XCTAssertEqual(try c.query("SHOW search_path").first?.raw(at: 0), "public")
    }

    func testOptionsParsing() {
        XCTAssertEqual(SessionLimits.settingNames(inOptions: "-c statement_timeout=5s -clock_timeout=1s --Search-Path=x -c a\\ b=c"),
                       ["statement_timeout", "lock_timeout", "search_path", "a b"])
        XCTAssertEqual(SessionLimits.defaults.startupOptions(existing: "-c statement_timeout=5s"),
                       "-c lock_timeout=10000 -c idle_in_transaction_session_timeout=60000 -c statement_timeout=5s")
        let none = SessionLimits(statementTimeout: 1, lockTimeout: 1, idleInTransactionTimeout: 1, tcpTimeout: 1)
        XCTAssertNil(none.startupOptions(existing: "-c statement_timeout=1 -c lock_timeout=1 -c idle_in_transaction_session_timeout=1"),
                     "nothing to add: the URL's options stand")
    }

    /// Over TCP (through the test proxy): keepalives and tcp_user_timeout are on the socket,
    /// sized from TALLY_DB_TCP_TIMEOUT; those the URL names keep the URL's values.
    func testTCPConnectionsHaveKeepalivesAndAUserTimeout() throws {
        let db = try TestDatabase.create()
        let proxy = try PostgresProxy()
        let c = try Connection.connect(proxy.url(database: db.name))
        XCTAssertEqual(c.connectionOption("keepalives"), "1")
        XCTAssertEqual(c.connectionOption("keepalives_idle"), "10")
        XCTAssertEqual(c.connectionOption("keepalives_interval"), "6")
        XCTAssertEqual(c.connectionOption("keepalives_count"), "3")
        XCTAssertEqual(c.connectionOption("tcp_user_timeout"), "30000")
        XCTAssertEqual(socketOption(c, Int32(SOL_SOCKET), Int32(SO_KEEPALIVE)), 1)
        XCTAssertEqual(socketOption(c, Int32(IPPROTO_TCP), Int32(TCP_KEEPIDLE)), 10)
        XCTAssertEqual(socketOption(c, Int32(IPPROTO_TCP), Int32(TCP_KEEPINTVL)), 6)
        XCTAssertEqual(socketOption(c, Int32(IPPROTO_TCP), Int32(TCP_KEEPCNT)), 3)
        XCTAssertEqual(socketOption(c, Int32(IPPROTO_TCP), 18 /* TCP_USER_TIMEOUT */), 30000)

        let own = try Connection.connect(proxy.url(database: db.name) + "?keepalives_idle=4&tcp_user_timeout=7000",
                                         limits: SessionLimits(statementTimeout: 30, lockTimeout: 10, idleInTransactionTimeout: 60, tcpTimeout: 90))
        XCTAssertEqual(own.connectionOption("keepalives_idle"), "4", "the URL's value")
        XCTAssertEqual(own.connectionOption("keepalives_interval"), "20", "from TALLY_DB_TCP_TIMEOUT=90s: (90 − 30) / 3")
        XCTAssertEqual(socketOption(own, Int32(IPPROTO_TCP), 18), 7000)
        XCTAssertEqual(try show(own), ["30s", "10s", "1min"])
    }

    private func socketOption(_ c: Connection, _ level: Int32, _ name: Int32) -> Int32 {
        var value: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(c.socket, level, name, &value, &length) == 0 else { return -1 }
        return value
    }
}
