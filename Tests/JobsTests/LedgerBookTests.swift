import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// The ledger core against a real PostgreSQL: consumption order, expiry, debt, clawbacks,
/// references, notifications and the database's own guards.
final class LedgerBookTests: XCTestCase {
    func testThreeGrantsAreSpentSoonestExpiryFirstAndPromotionalBeforePaid() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        // Created in an order that is not the consumption order.
        let ids = try LedgerFixtures.account("u1", on: c, grants: [
            (.topup, 10, nil),                          // never expires: last
            (.subscription, 10, LedgerFixtures.days(20)),
            (.topup, 10, LedgerFixtures.days(3)),       // same expiry as the reward below: paid after promo
            (.reward, 10, LedgerFixtures.days(3)),
            (.trial, 10, LedgerFixtures.days(-1)),      // already expired: never spent
        ])
        let (neverExpiring, subscription, paidSoon, rewardSoon, expired) = (ids[0], ids[1], ids[2], ids[3], ids[4])
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), 40, "the expired grant does not count")

        let outcome = try c.transaction { try Ledger.debit(Debit(userID: "u1", amount: 25, reference: "usage:u1:a"), on: $0) }
        guard case .applied(let change) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(change.balance, 15)
        XCTAssertEqual(try LedgerFixtures.remaining(rewardSoon, on: c), 0, "promotional first at the same expiry")
        XCTAssertEqual(try LedgerFixtures.remaining(paidSoon, on: c), 0)
        XCTAssertEqual(try LedgerFixtures.remaining(subscription, on: c), 5, "then the next to expire")
        XCTAssertEqual(try LedgerFixtures.remaining(neverExpiring, on: c), 10, "never-expiring last")
        XCTAssertEqual(try LedgerFixtures.remaining(expired, on: c), 10, "an expired grant is never spent")
        // One allocation per grant touched, summing to the entry.
        let allocations = try c.query("""
            SELECT a.grant_id, a.amount FROM ledger_allocations a JOIN ledger_entries e ON e.id = a.entry_id
            WHERE e.reference = 'usage:u1:a' ORDER BY a.amount
            """).map { (try $0.int64("grant_id"), try $0.int64("amount")) }
        XCTAssertEqual(allocations.map(\.1).reduce(0, +), -25)
        XCTAssertEqual(Set(allocations.map(\.0)), [rewardSoon, paidSoon, subscription])

        // More than the spendable balance is refused, even though the expired grant holds 10.
        let refused = try c.transaction { try Ledger.debit(Debit(userID: "u1", amount: 16, reference: "usage:u1:b"), on: $0) }
        XCTAssertEqual(refused, .insufficient(balance: 15, required: 16))

        // credits.expire writes off the expired grant (and only it); the balance is unchanged.
        let result = try c.transaction { try CreditsExpireJobProbe.expire(asOf: Date(), on: $0) }
        XCTAssertEqual(result.grants, 1)
        XCTAssertEqual(result.credits, 10)
        XCTAssertEqual(try LedgerFixtures.remaining(expired, on: c), 0)
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), 15)
        // Run again: nothing left to do.
        XCTAssertEqual(try c.transaction { try CreditsExpireJobProbe.expire(asOf: Date(), on: $0) }.grants, 0)
        // Far in the future the reward-like grants expire too, but never subscription grants
        // (credits.rollover settles those).
        let later = try c.transaction { try CreditsExpireJobProbe.expire(asOf: LedgerFixtures.days(30), on: $0) }
        XCTAssertEqual(later.grants, 0, "what is left expiring is a subscription grant; never-expiring grants never expire")
        try LedgerFixtures.assertVerified(c)
    }

    func testDebtIsRepaidFirstFromNewGrantsAndUsageIsRefusedMeanwhile() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let ids = try LedgerFixtures.account("u2", on: c, grants: [(.topup, 30, nil)])
        try c.transaction { _ = try Ledger.clawback(Clawback(userID: "u2", amount: 50, reference: "clawback:test:1", fromGrant: ids[0]), on: $0) }
        XCTAssertEqual(try LedgerFixtures.debt("u2", on: c), 20)
        XCTAssertEqual(try LedgerFixtures.balance("u2", on: c), -20)
        let refused = try c.transaction { try Ledger.debit(Debit(userID: "u2", amount: 1, reference: "usage:u2:x"), on: $0) }
        XCTAssertEqual(refused, .insufficient(balance: -20, required: 1))

        let small = try c.transaction { try Ledger.grant(NewGrant(userID: "u2", source: .reward, amount: 5, reference: "reward:u2:1"), on: $0) }
        XCTAssertEqual(small?.balance, -15)
        XCTAssertEqual(try LedgerFixtures.remaining(small!.grantID!, on: c), 0, "all of it repaid debt")
        let big = try c.transaction { try Ledger.grant(NewGrant(userID: "u2", source: .topup, amount: 100, reference: "topup:u2:1"), on: $0) }
        XCTAssertEqual(big?.balance, 85)
        XCTAssertEqual(try LedgerFixtures.remaining(big!.grantID!, on: c), 85)
        XCTAssertEqual(try LedgerFixtures.debt("u2", on: c), 0)
        try LedgerFixtures.assertVerified(c)
    }

    func testClawbackTakesTheBoughtGrantThenSoonestExpiringThenDebt() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let ids = try LedgerFixtures.account("u3", on: c, grants: [
            (.topup, 10, nil), (.reward, 7, LedgerFixtures.days(2)), (.subscription, 8, LedgerFixtures.days(9)), (.topup, 20, nil),
        ])
        let (other, soon, later, bought) = (ids[0], ids[1], ids[2], ids[3])
        let change = try c.transaction {
            try Ledger.clawback(Clawback(userID: "u3", amount: 50, reference: "clawback:test:u3", fromGrant: bought), on: $0)
        }
        XCTAssertEqual(try LedgerFixtures.remaining(bought, on: c), 0)
        XCTAssertEqual(try LedgerFixtures.remaining(soon, on: c), 0)
        XCTAssertEqual(try LedgerFixtures.remaining(later, on: c), 0)
        XCTAssertEqual(try LedgerFixtures.remaining(other, on: c), 0)
        XCTAssertEqual(change?.debt, 5, "20 + 7 + 8 + 10 = 45 taken, 5 owed")
        XCTAssertEqual(change?.balance, -5)
        // The same reference again changes nothing.
        let again = try c.transaction {
            try Ledger.clawback(Clawback(userID: "u3", amount: 50, reference: "clawback:test:u3", fromGrant: bought), on: $0)
        }
        XCTAssertNil(again)
        XCTAssertEqual(try LedgerFixtures.balance("u3", on: c), -5)
        try LedgerFixtures.assertVerified(c)
    }

    func testAReferenceAppliedTwiceIsANoOpAndEveryChangeNotifies() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let heard = LockedBox<[String]>([])
        let listener = Listener(url: db.url, channels: [Channels.events]) { n in heard.mutate { $0.append(n.payload) } }
        listener.start()
        defer { listener.stop() }
        try await waitUntil("the listener is connected") { listener.isConnected }

        try LedgerFixtures.account("u4", on: c)
        let grant = NewGrant(userID: "u4", source: .topup, amount: 500, reference: "stripe:checkout:cs_1")
        XCTAssertNotNil(try c.transaction { try Ledger.grant(grant, on: $0) })
        XCTAssertNil(try c.transaction { try Ledger.grant(grant, on: $0) }, "applied once")
        let debit = Debit(userID: "u4", amount: 20, reference: "usage:u4:k1")
        guard case .applied = try c.transaction({ try Ledger.debit(debit, on: $0) }) else { return XCTFail() }
        XCTAssertEqual(try c.transaction { try Ledger.debit(debit, on: $0) }, .duplicate(amount: 20, balance: 480))
        XCTAssertEqual(try LedgerFixtures.balance("u4", on: c), 480)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE user_id = 'u4'"), 2)

        let rows = try c.query("SELECT id, type, payload FROM notifications WHERE user_id = 'u4' ORDER BY id")
        XCTAssertEqual(try rows.map { try $0.string("type") }, ["transaction_complete", "balance_update"])
        XCTAssertEqual(try rows[0].json("payload")["balance"]?.int64, 500)
        XCTAssertEqual(try rows[1].json("payload")["amount"]?.int64, -20)
        XCTAssertEqual(try rows[1].json("payload")["balance"]?.int64, 480)
        try await waitUntil("both NOTIFYs arrived") { heard.value.count == 2 }
        let first = try JSON.parse(heard.value[0])
        XCTAssertEqual(first["user_id"]?.string, "u4")
        XCTAssertEqual(first["type"]?.string, "transaction_complete")
        XCTAssertEqual(first["id"]?.int64, try rows[0].int64("id"))
    }

    func testTheDatabaseGuardsTheLedger() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let ids = try LedgerFixtures.account("u5", on: c, grants: [(.topup, 10, nil)])
        XCTAssertThrowsError(try c.query("UPDATE ledger_entries SET amount = 1000 WHERE user_id = 'u5'"), "append-only")
        XCTAssertThrowsError(try c.query("DELETE FROM ledger_entries WHERE user_id = 'u5'"), "append-only")
        XCTAssertThrowsError(try c.query("UPDATE grants SET remaining = -1 WHERE id = $1", [ids[0]]), "no negative remainder")
        XCTAssertThrowsError(try c.query("UPDATE accounts SET debt = -1 WHERE user_id = 'u5'"))
        let entry = try c.query("SELECT reference, balance_after FROM ledger_entries WHERE user_id = 'u5'").first!
        XCTAssertThrowsError(try c.query("""
            INSERT INTO ledger_entries (user_id, amount, kind, reference, balance_after) VALUES ('u5', 1, 'topup', $1, 1)
            """, [try entry.string("reference")])) { XCTAssertTrue(($0 as? PostgresError)?.isUniqueViolation ?? false) }
        XCTAssertThrowsError(try c.query("INSERT INTO grants (user_id, source, amount, remaining, entry_id) VALUES ('nobody', 'topup', 1, 1, 1)"),
                             "foreign keys")
        // verify names an account whose grant no longer matches its allocations.
        try c.query("UPDATE grants SET remaining = 7 WHERE id = $1", [ids[0]])
        let report = try LedgerVerifier.verify(on: c)
        XCTAssertEqual(report.failingAccounts, ["u5"])
    }

    func testConcurrentBooksOnTheSameAccountsNeverDeadlockOrOverspend() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        for u in ["a", "b", "c"] { try LedgerFixtures.account(u, on: c, grants: [(.topup, 100, nil)]) }
        let pool = db.pool(6)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<6 {
                group.addTask {
                    for i in 0..<20 {
                        try await pool.transaction { tx in
                            let users = t % 2 == 0 ? ["a", "b", "c"] : ["c", "b", "a"]
                            let book = LedgerBook(tx)
                            try book.load(users)
                            for u in users { _ = try book.debit(Debit(userID: u, amount: 1, reference: "usage:\(u):\(t):\(i)")) }
                            try book.commit()
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        for u in ["a", "b", "c"] { XCTAssertEqual(try LedgerFixtures.balance(u, on: c), 0, "120 debits of 1 against 100: exactly 100 applied") }
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'usage'"), 300)
        try LedgerFixtures.assertVerified(c)
    }
}

/// credits.expire's batch step, callable inside a test's transaction.
enum CreditsExpireJobProbe {
    static func expire(asOf: Date, on tx: Connection) throws -> (grants: Int, credits: Int64) {
        let r = try CreditsExpireJob.expireBatch(asOf: asOf, limit: 1000, on: tx)
        return (r.grants, r.credits)
    }
}
