import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// No amount of credits above 10^12 gets in anywhere, and none makes a worker trap
/// (DESIGN.md, "Limits everywhere"): the ledger book, usage, Stripe metadata, the commands and
/// the database's own CHECKs each refuse it with a message that says so.
final class CreditBoundsTests: XCTestCase {
    let limit = Ledger.maxCredits

    func testTheBookRefusesAmountsAboveTheLimitAndNeverOverflows() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        _ = try LedgerFixtures.account("u1", on: c)
        let atLimit = try c.transaction { tx in
            try Ledger.grant(NewGrant(userID: "u1", source: .adjustment, amount: limit, reference: "admin:at-limit"), on: tx)
        }
        XCTAssertEqual(atLimit?.amount, limit, "exactly 10^12 is allowed")
        let refusals: [(String, (Connection) throws -> Void)] = [
            ("grant", { tx in _ = try Ledger.grant(NewGrant(userID: "u1", source: .adjustment, amount: self.limit + 1, reference: "admin:big"), on: tx) }),
            ("debit", { tx in _ = try Ledger.debit(Debit(userID: "u1", amount: self.limit + 1, reference: "usage:u1:big"), on: tx) }),
            ("clawback", { tx in _ = try Ledger.clawback(Clawback(userID: "u1", amount: Int64.max, reference: "refund:big"), on: tx) }),
        ]
        for (what, operation) in refusals {
            XCTAssertThrowsError(try c.transaction { try operation($0) }, what) { error in
                XCTAssertTrue("\(error)".contains("10^12"), "\(what): \(error)")
            }
        }
        XCTAssertThrowsError(try LedgerBook.add(Int64.max - 1, 2)) { error in
            XCTAssertTrue("\(error)".contains("64 bits"), "\(error)")
        }
        XCTAssertEqual(try LedgerBook.add(-5, 3), -2)
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), limit, "the grant at the limit, nothing else")
        try LedgerFixtures.assertVerified(c)

        // The database holds the invariant too, whoever writes.
        XCTAssertThrowsError(try c.execute("UPDATE grants SET amount = 1000000000001, remaining = 1000000000001 WHERE user_id = 'u1'")) {
            XCTAssertEqual(($0 as? PostgresError)?.sqlState, "23514", "\($0)")
        }
        XCTAssertThrowsError(try c.query(LedgerQueries.setAgent, ["huge", limit + 1])) {
            XCTAssertEqual(($0 as? PostgresError)?.sqlState, "23514", "\($0)")
        }
    }

    func testUsageAboveTheLimitIsAnInvalidUnitsRefusalNotACrash() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        _ = try LedgerFixtures.account("u1", on: c, grants: [(.topup, 100, nil)])
        try c.query(LedgerQueries.setAgent, ["gpu", Int64(1_000_000)])
        let harness = try WorkerHarness(db)
        defer { Task { await harness.stop() } }
        let over = try harness.enqueue(UsageRecordJob.kind, ["user_id": "u1", "agent": "gpu", "units": .int(1_000_001), "idempotency_key": "a"])
        let wrapped = try harness.enqueue(UsageRecordJob.kind, ["user_id": "u1", "agent": "gpu", "units": .int(Int64.max), "idempotency_key": "b"])
        let fine = try harness.enqueue(UsageRecordJob.kind, ["user_id": "u1", "agent": "default", "units": .int(3), "idempotency_key": "c"])
        for id in [over, wrapped] {
            let done = try await harness.finished(id)
            XCTAssertEqual(done.state, "completed")
            XCTAssertEqual(done.result?["error"]?.string, "invalid_units", "\(String(describing: done.result))")
            XCTAssertEqual(done.result?["max_units"]?.int64, 1_000_000, "10^12 ÷ the price")
        }
        let charged = try await harness.finished(fine)
        XCTAssertEqual(charged.result?["charged"]?.int64, 3, "the worker is still up and charging")
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), 100 - 3)
    }

    func testStripeMetadataAboveTheLimitIsFlaggedAndGrantsNothing() async throws {
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db)
        defer { Task { await harness.stop() } }
        let event = StripeFixture.setting(try StripeFixture.load("checkout.session.completed.payment_topup.json"),
                                          ["data", "object", "metadata", "credits"], .string("1000000000001"))
        let done = try await harness.finished(try StripeFixture.deliver(event, to: harness))
        XCTAssertEqual(done.state, "discarded", "it cannot be applied; an operator looks at it")
        let reason = try XCTUnwrap(try db.scalar("SELECT flag_reason FROM stripe_events WHERE id = $1", [event["id"]?.string ?? ""]))
        XCTAssertTrue(reason.contains("10^12"), reason)
        XCTAssertEqual(try db.int("SELECT count(*) FROM grants"), 0)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries"), 0)
    }

    func testCommandsRefuseAmountsAboveTheLimitAndChangeNothing() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        _ = try LedgerFixtures.account("u1", on: c)
        let env = ["DATABASE_URL": db.url]
        let before = try db.scalar("SELECT (SELECT count(*) FROM ledger_entries) || '/' || (SELECT count(*) FROM agents) || '/' || (SELECT count(*) FROM products) || '/' || (SELECT string_agg(credits || ':' || daily_cap, ',' ORDER BY action) FROM reward_rules)")
        for args in [
            ["grant", "u1", "1000000000001", "--reason", "x", "--actor", "ops"],
            ["debit", "u1", "99999999999999999999", "--reason", "x", "--actor", "ops"],
            ["agents", "set", "gpu", "1000000000001"],
            ["products", "set", "huge", "--credits", "1000000000001", "--usd-cents", "100"],
            ["rewards", "set", "post_like", "1000000000001"],
            ["rewards", "set", "post_like", "1", "--daily-cap", "1000000000001"],
        ] {
            let run = try TallyRun.run(args, environment: env)
            XCTAssertEqual(run.status, 2, "\(args): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("10^12"), "\(args): \(run.stderr)")
        }
        let after = try db.scalar("SELECT (SELECT count(*) FROM ledger_entries) || '/' || (SELECT count(*) FROM agents) || '/' || (SELECT count(*) FROM products) || '/' || (SELECT string_agg(credits || ':' || daily_cap, ',' ORDER BY action) FROM reward_rules)")
        XCTAssertEqual(after, before)
        let ok = try TallyRun.run(["grant", "u1", "1000000000000", "--reason", "x", "--actor", "ops"], environment: env)
        XCTAssertEqual(ok.status, 0, "exactly 10^12 is fine: \(ok.stderr)")
    }
}
