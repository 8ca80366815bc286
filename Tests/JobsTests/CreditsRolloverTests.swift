import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// credits.rollover against a real PostgreSQL: the worked example of
/// docs/rewards-and-notifications.md, ended subscriptions, the fan-out, re-runs.
final class CreditsRolloverTests: XCTestCase {
    // Story time (`LedgerClock`): "January" is now, the period ends ten days from now and then
    // a calendar month apart; the jobs run as of the database's clock after the clock advances.
    func months(_ clock: LedgerClock) -> (feb1: Date, mar1: Date, apr1: Date) {
        let feb1 = clock.day(10)
        let mar1 = RolloverRule.oneMonth(after: feb1)
        return (feb1, mar1, RolloverRule.oneMonth(after: mar1))
    }

    func spend(_ user: String, _ credits: Int64, key: String, on c: Connection) throws -> DebitOutcome {
        try c.transaction { try Ledger.debit(Debit(userID: user, amount: credits, reference: "usage:\(user):\(key)"), on: $0) }
    }

    func grants(_ user: String, source: String, on c: Connection) throws -> [(amount: Int64, remaining: Int64, expires: String)] {
        try c.query("SELECT amount, remaining, expires_at FROM grants WHERE user_id = $1 AND source = $2 ORDER BY id", [user, source]).map {
            (try $0.int64("amount"), try $0.int64("remaining"), Timestamp.iso8601(try $0.date("expires_at")))
        }
    }

    /// The worked example of the docs: two renewals, a capped rollover, then a cancellation.
    func testWorkedExampleOverTwoMonths() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let clock = LedgerClock(on: c)
        let (feb1, mar1, apr1) = months(clock)
        try RewardsFixtures.openAccount("sam", on: c)
        // January: the subscription's first month, 250 credits until Feb 1. Sam uses 100.
        try RewardsFixtures.subscription("sub_1", user: "sam", status: "active", periodEnd: feb1, on: c)
        try RewardsFixtures.pay("sam", credits: 250, source: .subscription, expiresAt: feb1, on: c)
        guard case .applied = try spend("sam", 100, key: "jan", on: c) else { return XCTFail("January usage refused") }
        // Feb 1: the renewal (invoice.paid) grants February's 250 until Mar 1.
        try RewardsFixtures.subscription("sub_1", user: "sam", status: "active", periodEnd: mar1, on: c)
        try RewardsFixtures.pay("sam", credits: 250, source: .subscription, expiresAt: mar1, on: c)

        try clock.advance(to: feb1.addingTimeInterval(1800))
        let first = try await RewardsFixtures.runFanOut(db, kind: "credits.rollover")
        XCTAssertEqual(first?["accounts"]?.int64, 1)
        XCTAssertEqual(try LedgerFixtures.balance("sam", on: c), 400, "150 rolled over beside February's 250")
        let rollover = try grants("sam", source: "rollover", on: c)
        XCTAssertEqual(rollover.map(\.amount), [150])
        XCTAssertEqual(rollover.first?.expires, Timestamp.iso8601(clock.stored(mar1)), "expires with February's grant")
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE user_id = 'sam' AND kind = 'rollover.settle' AND amount = -150"), 1)

        // February: Sam uses 50; Mar 1 renews; February's 200 and the rollover's 150 expire: 350
        // left, 250 roll (the cap), 100 are written off.
        guard case .applied = try spend("sam", 50, key: "feb", on: c) else { return XCTFail("February usage refused") }
        try RewardsFixtures.subscription("sub_1", user: "sam", status: "active", periodEnd: clock.stored(apr1), on: c)
        try RewardsFixtures.pay("sam", credits: 250, source: .subscription, expiresAt: clock.stored(apr1), on: c)
        try clock.advance(to: mar1.addingTimeInterval(1800))
        _ = try await RewardsFixtures.runFanOut(db, kind: "credits.rollover")
        XCTAssertEqual(try grants("sam", source: "rollover", on: c).map(\.amount), [150, 250])
        XCTAssertEqual(try grants("sam", source: "rollover", on: c).last?.expires, Timestamp.iso8601(clock.stored(apr1)))
        XCTAssertEqual(try LedgerFixtures.balance("sam", on: c), 500)
        let settle = try c.query("SELECT amount, metadata FROM ledger_entries WHERE user_id = 'sam' AND kind = 'rollover.settle' ORDER BY id").last!
        XCTAssertEqual(try settle.int64("amount"), -350)
        XCTAssertEqual(try settle.json("metadata")["written_off"]?.int64, 100)

        // A re-run of the same hour (an operator, or a crash and retry) changes nothing.
        _ = try await RewardsFixtures.runFanOut(db, kind: "credits.rollover")
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind LIKE 'rollover%'"), 4)

        // March: Sam cancels; on Apr 1 the subscription has ended: nothing rolls, 500 written off.
        try RewardsFixtures.subscription("sub_1", user: "sam", status: "canceled", periodEnd: clock.stored(apr1), on: c)
        try clock.advance(to: apr1.addingTimeInterval(1800))
        let last = try await RewardsFixtures.runFanOut(db, kind: "credits.rollover")
        XCTAssertEqual(last?["accounts"]?.int64, 1)
        XCTAssertEqual(try grants("sam", source: "rollover", on: c).count, 2, "no new rollover grant")
        XCTAssertEqual(try LedgerFixtures.balance("sam", on: c), 0)
        XCTAssertEqual(try db.int("SELECT sum(remaining) FROM grants WHERE user_id = 'sam'"), 0)
        try LedgerFixtures.assertVerified(c)
    }

    func testExpiredGrantIsNeverSpendableEvenBeforeSettlement() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try RewardsFixtures.openAccount("kim", on: c)
        let soon = Date().addingTimeInterval(1)
        try RewardsFixtures.pay("kim", credits: 250, source: .subscription, expiresAt: soon, on: c)
        try RewardsFixtures.pay("kim", credits: 250, source: .subscription, expiresAt: Date().addingTimeInterval(30 * 86400), on: c)
        guard case .applied = try spend("kim", 100, key: "a", on: c) else { return XCTFail("usage refused") }
        XCTAssertEqual(try LedgerFixtures.balance("kim", on: c), 400)
        try await waitUntil("the first grant expires") { try LedgerFixtures.balance("kim", on: c) == 250 }
        // 150 are left in the expired grant, not yet settled: they cannot be spent.
        XCTAssertEqual(try LedgerFixtures.remaining(try db.int("SELECT min(id) FROM grants WHERE user_id = 'kim'"), on: c), 150)
        XCTAssertEqual(try spend("kim", 251, key: "b", on: c), .insufficient(balance: 250, required: 251))
        // Settled: they roll over into a grant that expires with the next one.
        _ = try await RewardsFixtures.runFanOut(db, kind: "credits.rollover")
        XCTAssertEqual(try LedgerFixtures.balance("kim", on: c), 400)
        guard case .applied = try spend("kim", 251, key: "c", on: c) else { return XCTFail("usage refused after the rollover") }
        try LedgerFixtures.assertVerified(c)
    }

    func testCancelAtPeriodEndEndsAtThatPeriodEndAndUnknownPeriodsAddOneMonth() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let clock = LedgerClock(on: c)
        let (feb1, _, _) = months(clock)
        for u in ["stays", "leaves", "unpaid"] { try RewardsFixtures.openAccount(u, on: c) }
        try RewardsFixtures.subscription("sub_s", user: "stays", status: "active", periodEnd: feb1, on: c)
        try RewardsFixtures.subscription("sub_l", user: "leaves", status: "active", periodEnd: feb1, cancelAtPeriodEnd: true, on: c)
        try RewardsFixtures.subscription("sub_u", user: "unpaid", status: "unpaid", periodEnd: feb1, on: c)
        for u in ["stays", "leaves", "unpaid"] { try RewardsFixtures.pay(u, credits: 250, source: .subscription, expiresAt: feb1, on: c) }
        try clock.advance(to: feb1.addingTimeInterval(60))
        _ = try await RewardsFixtures.runFanOut(db, kind: "credits.rollover")
        // No renewal recorded yet for "stays": its next period is Feb 1 + one calendar month.
        XCTAssertEqual(try grants("stays", source: "rollover", on: c).map(\.amount), [250])
        XCTAssertEqual(try grants("stays", source: "rollover", on: c).first?.expires,
                       Timestamp.iso8601(RolloverRule.oneMonth(after: clock.stored(feb1))))
        XCTAssertEqual(try grants("leaves", source: "rollover", on: c).count, 0, "set to cancel at the period that just ended")
        XCTAssertEqual(try grants("unpaid", source: "rollover", on: c).count, 0)
        XCTAssertEqual(try LedgerFixtures.balance("leaves", on: c), 0)
        try LedgerFixtures.assertVerified(c)
    }

    func testFanOutEnqueuesBatchesAndEachAccountIsSettledOnceAlsoForExpiry() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let clock = LedgerClock(on: c)
        let (feb1, _, _) = months(clock)
        let users = try c.transaction { try RewardsFixtures.openAccounts("acct", count: 2500, on: $0) }
        try c.transaction { tx in
            let book = LedgerBook(tx)
            try book.load(users)
            for (i, u) in users.enumerated() {
                try book.grant(NewGrant(userID: u, source: .subscription, amount: Int64(200 + i % 100), expiresAt: feb1, reference: "sub:\(u)"))
                try book.grant(NewGrant(userID: u, source: .trial, amount: 5, expiresAt: feb1, reference: "trial:\(u)"))
            }
            try book.commit()
        }
        let env = ["TALLY_ROLLOVER_BATCH": "1000", "TALLY_EXPIRE_BATCH": "1000"]
        try clock.advance(to: feb1)
        let plan = try await RewardsFixtures.runFanOut(db, kind: "credits.rollover", env: env)
        XCTAssertEqual(plan?["accounts"]?.int64, 2500)
        XCTAssertEqual(plan?["batches"]?.int64, 3, "1,000 + 1,000 + 500")
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = 'credits.rollover' AND args ? 'through'"), 3)
        XCTAssertEqual(try db.scalar("""
            SELECT string_agg((result->>'accounts'), ',' ORDER BY id) FROM jobs WHERE kind = 'credits.rollover' AND args ? 'through'
            """), "1000,1000,500")
        XCTAssertEqual(try db.int("SELECT count(DISTINCT user_id) FROM ledger_entries WHERE kind = 'rollover.settle'"), 2500)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'rollover.settle'"), 2500)
        XCTAssertEqual(try db.int("SELECT count(*) FROM grants WHERE source = 'trial' AND remaining > 0"), 2500,
                       "rollover leaves other grants to credits.expire")
        // A second planner as of a later time finds nothing due.
        try clock.advance(to: feb1.addingTimeInterval(3600))
        let again = try await RewardsFixtures.runFanOut(db, kind: "credits.rollover", env: env)
        XCTAssertEqual(again?["accounts"]?.int64, 0)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'rollover.settle'"), 2500)

        let expired = try await RewardsFixtures.runFanOut(db, kind: "credits.expire", asOf: clock.stored(feb1), env: env)
        XCTAssertEqual(expired?["batches"]?.int64, 3)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'expiry'"), 2500)
        XCTAssertEqual(try db.int("SELECT count(*) FROM grants WHERE source = 'trial' AND remaining > 0"), 0)
        try LedgerFixtures.assertVerified(c)
    }
}
