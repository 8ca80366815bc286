import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// Referrals against a real PostgreSQL: the payment hook, both sides rewarded once, self
/// referral, the use limit.
final class ReferralTests: XCTestCase {
    func reward(_ user: String, grant: Int64, on c: Connection) throws -> JSON {
        try c.transaction { try ReferralRewardJob.reward(.init(user_id: user, grant_id: grant), credits: 10, on: $0) }
    }

    func testFirstPaymentEnqueuesTheRewardInItsTransactionAndBothSidesGetTenOnce() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try RewardsFixtures.openAccount("alice", on: c)
        let code = try Referrals.create(userID: "alice", maxUses: 100, on: c).code
        // Bob signs up with Alice's code (as account.open stores it), in lowercase.
        let (state, _) = try await RewardsFixtures.runJob(db, kind: "account.open", args: ["user_id": "bob", "referral_code": .string(code.lowercased())])
        XCTAssertEqual(state, "completed")
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = 'referral.reward'"), 0, "the trial is no payment")

        // A payment that rolls back enqueues nothing: the hook is in the payment's transaction.
        try? c.transaction { tx -> Void in
            try Ledger.grant(NewGrant(userID: "bob", source: .topup, amount: 100, reference: "rolled-back"), on: tx)
            throw LedgerError.invalid("abort")
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = 'referral.reward'"), 0)

        try RewardsFixtures.pay("bob", credits: 100, on: c)
        try RewardsFixtures.pay("bob", credits: 500, on: c)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = 'referral.reward'"), 1, "one job for the first payment")
        let worker = try WorkerHarness(db, cron: false)
        try await waitUntil("the referral is rewarded") {
            try db.scalar("SELECT state::text FROM jobs WHERE kind = 'referral.reward'") == "completed"
        }
        await worker.stop()
        XCTAssertEqual(try db.int("SELECT sum(amount) FROM ledger_entries WHERE user_id = 'alice' AND kind = 'referral'"), 10)
        XCTAssertEqual(try db.int("SELECT sum(amount) FROM ledger_entries WHERE user_id = 'bob' AND kind = 'referral'"), 10)
        XCTAssertEqual(try db.int("SELECT uses FROM referral_codes WHERE code = $1", [code]), 1)

        // Later payments: no new job (rewarded), and a forced re-run refuses.
        try RewardsFixtures.pay("bob", credits: 100, on: c)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = 'referral.reward'"), 1)
        let grant = try db.int("SELECT id FROM grants WHERE user_id = 'bob' AND source = 'topup' ORDER BY id LIMIT 1")
        XCTAssertEqual(try reward("bob", grant: grant, on: c)["error"]?.string, "already_rewarded")
        XCTAssertEqual(try LedgerFixtures.balance("alice", on: c), 10)
        try LedgerFixtures.assertVerified(c)
    }

    func testSelfReferralIsRefused() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try RewardsFixtures.openAccount("carol", on: c)
        let code = try Referrals.create(userID: "carol", code: "carol-code", maxUses: 100, on: c).code
        XCTAssertEqual(code, "CAROL-CODE")
        // account.open again with her own code (an account without a code records the one given).
        try RewardsFixtures.openAccount("carol", referralCode: "carol-code", on: c)
        let paid = try RewardsFixtures.pay("carol", credits: 100, on: c)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = 'referral.reward'"), 1)
        XCTAssertEqual(try reward("carol", grant: paid.grantID!, on: c)["error"]?.string, "self_referral")
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'referral'"), 0)
        XCTAssertEqual(try db.int("SELECT uses FROM referral_codes"), 0)
    }

    func testTheHundredthUseIsRewardedAndTheHundredAndFirstIsRefused() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try RewardsFixtures.openAccount("owner", on: c)
        let code = try Referrals.create(userID: "owner", maxUses: 100, on: c).code
        var grants: [String: Int64] = [:]
        for i in 1...101 {
            let user = String(format: "friend%03d", i)
            try RewardsFixtures.openAccount(user, referralCode: code, on: c)
            grants[user] = try RewardsFixtures.pay(user, credits: 100, on: c).grantID!
        }
        for i in 1...99 {
            let user = String(format: "friend%03d", i)
            XCTAssertNil(try reward(user, grant: grants[user]!, on: c)["error"])
        }
        let hundredth = try reward("friend100", grant: grants["friend100"]!, on: c)
        XCTAssertNil(hundredth["error"], "the 100th use is rewarded")
        XCTAssertEqual(hundredth["uses"]?.int64, 100)
        let hundredFirst = try reward("friend101", grant: grants["friend101"]!, on: c)
        XCTAssertEqual(hundredFirst["error"]?.string, "code_exhausted", "the 101st is refused")
        XCTAssertEqual(try LedgerFixtures.balance("owner", on: c), 1000, "100 × 10")
        XCTAssertEqual(try LedgerFixtures.balance("friend101", on: c), 100, "no referral credits")
        XCTAssertEqual(try db.int("SELECT uses FROM referral_codes"), 100)
        try LedgerFixtures.assertVerified(c)
    }

    func testRefusalsForUnknownCodesUnpaidGrantsAndAccountsWithoutCodes() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try RewardsFixtures.openAccount("dan", referralCode: "NOSUCHCODE", on: c)
        try RewardsFixtures.openAccount("erin", on: c)
        let paid = try RewardsFixtures.pay("dan", credits: 5, on: c)
        XCTAssertEqual(try reward("dan", grant: paid.grantID!, on: c)["error"]?.string, "unknown_code")
        XCTAssertEqual(try reward("erin", grant: 1, on: c)["error"]?.string, "no_referral")
        XCTAssertEqual(try reward("nobody", grant: 1, on: c)["error"]?.string, "account_not_found")
        try RewardsFixtures.openAccount("owner", on: c)
        let code = try Referrals.create(userID: "owner", maxUses: 100, on: c).code
        try RewardsFixtures.openAccount("fay", referralCode: code, on: c)
        let promo = try c.transaction { try Ledger.grant(NewGrant(userID: "fay", source: .reward, amount: 1, reference: "r"), on: $0)! }
        XCTAssertEqual(try reward("fay", grant: promo.grantID!, on: c)["error"]?.string, "not_paid", "a reward is no payment")
        XCTAssertThrowsError(try Referrals.create(userID: "ghost", maxUses: 1, on: c))
        XCTAssertThrowsError(try Referrals.create(userID: "owner", code: code, maxUses: 1, on: c), "taken")
    }
}
