import Foundation
import JobRuntime
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// account.open, usage.record, admin.adjust and credits.expire through a real worker pool,
/// and the read queries of GET /v1/accounts/{user_id} and /ledger.
final class LedgerJobsTests: XCTestCase {
    func testAccountOpenGrantsTheTrialOnceAndKeepsTheReferralCode() async throws {
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db)
        defer { Task { await harness.stop() } }
        let args: JSON = ["user_id": "u1", "referral_code": "FRIEND-7"]
        let first = try await harness.finished(try harness.enqueue(AccountOpenJob.kind, args, key: "account:u1"))
        XCTAssertEqual(first.result, ["user_id": "u1", "opened": true, "trial": 5, "balance": 5])
        // Again (a new job, not the keyed one): nothing more.
        let again = try await harness.finished(try harness.enqueue(AccountOpenJob.kind, args))
        XCTAssertEqual(again.result?["opened"]?.bool, false)
        XCTAssertEqual(again.result?["trial"]?.int64, 0)
        let c = try db.connect()
        let row = try XCTUnwrap(c.query("""
            SELECT a.referral_code, a.opened_by, g.source, g.amount,
                   round(extract(epoch FROM g.expires_at - g.created_at) / 86400) AS days
            FROM accounts a JOIN grants g USING (user_id) WHERE a.user_id = 'u1'
            """).first)
        XCTAssertEqual(try row.string("referral_code"), "FRIEND-7")
        XCTAssertEqual(try row.string("opened_by"), "signup")
        XCTAssertEqual(try row.string("source"), "trial")
        XCTAssertEqual(try row.int64("amount"), 5)
        XCTAssertEqual(try row.string("days"), "14")
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE reference = 'trial:u1'"), 1)

        // An account a payment opened first gets no trial from a later account.open.
        try c.transaction { try Ledger.openAccount("u2", openedBy: .payment, on: $0) }
        let late = try await harness.finished(try harness.enqueue(AccountOpenJob.kind, ["user_id": "u2"]))
        XCTAssertEqual(late.result?["trial"]?.int64, 0)
        // Bad args fail permanently (discarded), never half-applied.
        let bad = try await harness.finished(try harness.enqueue(AccountOpenJob.kind, ["user_id": ""]))
        XCTAssertEqual(bad.state, "discarded")
    }

    func testTrialSettingsComeFromTheEnvironment() async throws {
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db, environment: ["TALLY_TRIAL_CREDITS": "12", "TALLY_TRIAL_DURATION": "2d"])
        defer { Task { await harness.stop() } }
        let opened = try await harness.finished(try harness.enqueue(AccountOpenJob.kind, ["user_id": "u1"]))
        XCTAssertEqual(opened.result?["trial"]?.int64, 12)
        XCTAssertEqual(try db.scalar("SELECT round(extract(epoch FROM expires_at - created_at) / 3600) FROM grants"), "48")
    }

    func testUsageRecordChargesPriceTimesUnitsAndRefusesAsResults() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try LedgerFixtures.account("u1", on: c, grants: [(.topup, 100, nil)])
        try c.query(LedgerQueries.setAgent, ["gpt", Int64(7)])
        let harness = try WorkerHarness(db)
        defer { Task { await harness.stop() } }
        func usage(_ user: String, _ agent: String, _ units: Int64, _ key: String) async throws -> WorkerHarness.Finished {
            try await harness.finished(try harness.enqueue(UsageRecordJob.kind,
                ["user_id": .string(user), "agent": .string(agent), "units": .int(units), "idempotency_key": .string(key)],
                key: "usage:\(user):\(key)"))
        }
        let charged = try await usage("u1", "gpt", 3, "a")
        XCTAssertEqual(charged.result, ["charged": 21, "balance": 79])
        let insufficient = try await usage("u1", "gpt", 20, "b")
        XCTAssertEqual(insufficient.state, "completed")
        XCTAssertEqual(insufficient.result, ["error": "insufficient_credits", "balance": 79, "required": 140])
        let noAccount = try await usage("nobody", "gpt", 1, "c")
        XCTAssertEqual(noAccount.result, ["error": "account_not_found"])
        let noAgent = try await usage("u1", "no-such-agent", 1, "d")
        XCTAssertEqual(noAgent.result, ["error": "unknown_agent"])
        // units × price past Int64 (and so past 10^12): refused as a result on the first attempt, so a waiting caller learns why.
        let tooMany = try await usage("u1", "gpt", Int64.max / 7 + 1, "e")
        XCTAssertEqual(tooMany.state, "completed")
        XCTAssertEqual(tooMany.result, ["error": "invalid_units", "units": .int(Int64.max / 7 + 1), "credits_per_unit": 7,
                                        "max_units": .int(Ledger.maxCredits / 7)])
        XCTAssertEqual(tooMany.errors, [], "no failed attempt")
        // The same caller key again (a job enqueued past its pruned key): charged once, same answer.
        let replay = try await harness.finished(try harness.enqueue(UsageRecordJob.kind,
            ["user_id": "u1", "agent": "gpt", "units": 3, "idempotency_key": "a"]))
        XCTAssertEqual(replay.result, ["charged": 21, "balance": 79])
        let zero = try await harness.finished(try harness.enqueue(UsageRecordJob.kind,
            ["user_id": "u1", "agent": "gpt", "units": 0, "idempotency_key": "z"]))
        XCTAssertEqual(zero.state, "discarded", "units must be positive: a bad job, not a refusal")
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), 79)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'usage'"), 1)
        let meta = try XCTUnwrap(c.query("SELECT metadata FROM ledger_entries WHERE kind = 'usage'").first).json("metadata")
        XCTAssertEqual(meta["agent"]?.string, "gpt")
        XCTAssertEqual(meta["units"]?.int64, 3)
    }

    func testAdminAdjustKeepsActorAndReasonAndNeverCreatesDebt() async throws {
        let db = try TestDatabase.create()
        try LedgerFixtures.account("u1", on: try db.connect())
        let harness = try WorkerHarness(db)
        defer { Task { await harness.stop() } }
        let grant = try await harness.finished(try harness.enqueue(AdminAdjustJob.kind,
            ["user_id": "u1", "amount": 30, "reason": "outage credit", "actor": "ops@example.com", "reference": "ticket-9"]))
        XCTAssertEqual(grant.result?["balance"]?.int64, 30)
        let debit = try await harness.finished(try harness.enqueue(AdminAdjustJob.kind,
            ["user_id": "u1", "amount": -31, "reason": "abuse", "actor": "ops@example.com"]))
        XCTAssertEqual(debit.result?["error"]?.string, "insufficient_credits")
        let repeatGrant = try await harness.finished(try harness.enqueue(AdminAdjustJob.kind,
            ["user_id": "u1", "amount": 30, "reason": "outage credit", "actor": "ops@example.com", "reference": "ticket-9"]))
        XCTAssertEqual(repeatGrant.result?["applied"]?.bool, false)
        let row = try XCTUnwrap(db.connect().query("SELECT reference, metadata FROM ledger_entries WHERE user_id = 'u1'").first)
        XCTAssertEqual(try row.string("reference"), "admin:ticket-9")
        XCTAssertEqual(try row.json("metadata"), ["actor": "ops@example.com", "reason": "outage credit"])
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: try db.connect()), 30)
    }

    func testCreditsExpireJobWritesOffWhatExpiredAsOfItsDate() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let clock = LedgerClock(on: c)
        let ids = try LedgerFixtures.account("u1", on: c, grants: [(.reward, 4, clock.day(2)), (.trial, 5, clock.day(10)),
                                                                   (.subscription, 250, clock.day(1))])
        let harness = try WorkerHarness(db, cron: false)   // credits.rollover would settle the subscription grant
        defer { Task { await harness.stop() } }
        // Five days later (as_of may not be in the future): the stored times move back instead.
        try clock.advance(to: clock.day(5))
        let asOf = Timestamp.iso8601(clock.stored(clock.day(5)))
        let result = try await harness.finished(try harness.enqueue(CreditsExpireJob.kind, ["as_of": .string(asOf)], queue: "maintenance"))
        XCTAssertEqual(result.result, ["grants": 1, "credits": 4, "accounts": 1], "the reward only: the trial runs longer, subscription grants roll over")
        XCTAssertEqual(try LedgerFixtures.remaining(ids[0], on: c), 0)
        XCTAssertEqual(try LedgerFixtures.remaining(ids[2], on: c), 250)
        XCTAssertEqual(try db.scalar("SELECT kind || ' ' || amount FROM ledger_entries WHERE reference = $1", ["expire:grant:\(ids[0])"]), "expiry -4")
        let bad = try await harness.finished(try harness.enqueue(CreditsExpireJob.kind, ["as_of": "yesterday"], queue: "maintenance"))
        XCTAssertEqual(bad.state, "discarded")
        XCTAssertTrue(try JobRegistry.standard().schedules.contains { $0.name == "credits.expire" && $0.kind == CreditsExpireJob.kind })
        try LedgerFixtures.assertVerified(c)
    }

    func testReadQueriesGiveTheEndpointShapesAndNeedOnlyTheIngressRole() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try LedgerFixtures.account("u1", on: c, grants: [(.topup, 500, nil), (.trial, 5, LedgerFixtures.days(3)), (.reward, 9, LedgerFixtures.days(-1))])
        for i in 0..<5 {
            _ = try c.transaction { try Ledger.debit(Debit(userID: "u1", amount: 1, reference: "usage:u1:\(i)"), on: $0) }
        }
        try c.query("""
            INSERT INTO subscriptions (id, user_id, status, current_period_end, cancel_at_period_end)
            VALUES ('sub_1', 'u1', 'active', '2031-01-01T00:00:00Z', true)
            """)
        try c.execute("SET ROLE tally_ingress")
        let account = try XCTUnwrap(LedgerReads.account("u1", on: c))
        XCTAssertEqual(account["user_id"]?.string, "u1")
        XCTAssertEqual(account["balance"]?.int64, 500, "5 + 500 − 5 spent; the expired reward never counts")
        XCTAssertEqual(account["debt"]?.int64, 0)
        let grants = try XCTUnwrap(account["grants"]?.array)
        XCTAssertEqual(grants.map { $0["source"]!.string! }, ["topup"], "the trial is spent, the expired reward is not shown")
        XCTAssertEqual(Set(grants[0].object!.keys), ["id", "source", "amount", "remaining", "expires_at"])
        XCTAssertTrue(grants[0]["expires_at"]!.isNull)
        XCTAssertEqual(account["subscription"], ["status": "active", "current_period_end": "2031-01-01T00:00:00.000Z", "cancel_at_period_end": true])
        XCTAssertNil(try LedgerReads.account("nobody", on: c))

        let page1 = try XCTUnwrap(LedgerReads.ledger("u1", limit: 4, on: c))
        let entries1 = try XCTUnwrap(page1["entries"]?.array)
        XCTAssertEqual(entries1.count, 4)
        XCTAssertEqual(Set(entries1[0].object!.keys), ["id", "amount", "balance_after", "kind", "reference", "metadata", "created_at"])
        XCTAssertEqual(entries1[0]["metadata"], [:], "a debit made without metadata has {}")
        XCTAssertEqual(entries1[0]["reference"]?.string, "usage:u1:4", "newest first")
        XCTAssertEqual(entries1[0]["balance_after"]?.int64, 509, "the book's running sum: it still holds the expired 9 until written off")
        let next = try XCTUnwrap(page1["next_before"]?.int64)
        let page2 = try XCTUnwrap(LedgerReads.ledger("u1", limit: 4, before: next, on: c))
        XCTAssertEqual(page2["entries"]?.array?.count, 4)
        let page3 = try XCTUnwrap(LedgerReads.ledger("u1", limit: 4, before: page2["next_before"]?.int64, on: c))
        XCTAssertEqual(page3["entries"]?.array?.count, 0)
        XCTAssertTrue(page3["next_before"]!.isNull)
        XCTAssertNil(try LedgerReads.ledger("nobody", on: c))
        // The ingress role reads; it never writes the ledger.
        XCTAssertThrowsError(try c.query("UPDATE grants SET remaining = 0")) { XCTAssertEqual(($0 as? PostgresError)?.sqlState, "42501") }
        XCTAssertThrowsError(try c.query("SELECT count(*) FROM payments")) { XCTAssertEqual(($0 as? PostgresError)?.sqlState, "42501") }
        XCTAssertNoThrow(try c.query("SELECT count(*) FROM notifications"))
    }
}
