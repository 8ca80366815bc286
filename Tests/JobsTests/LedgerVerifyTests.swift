import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// `tally ledger verify` against a small real ledger made through Tally's own code paths (the
/// ledger core, a Stripe top-up and its partial refund through stripe.event, a crypto purchase
/// confirmed through crypto.confirm_manual): it passes, then each check in turn catches one
/// thing corrupted by hand, as the database owner, in a copy of that ledger.
final class LedgerVerifyTests: XCTestCase {
    /// The Stripe fixtures' user.
    let payer = "8c1f6d2e-4b7a-4e0c-9a51-3f2b7d9e6a10"
    let purchase = "6f1c2b3a-0000-4000-8000-0000000000c1"

    /// The rows the corruptions aim at.
    struct Rows {
        var aliceReward: Int64 = 0, aliceAdjustment: Int64 = 0, aliceDebit: Int64 = 0, aliceGrantEntry: Int64 = 0
        var bobGrant: Int64 = 0, bobDebit: Int64 = 0
        var topupGrant: Int64 = 0, payment: Int64 = 0, repayingEntry: Int64 = 0, repayingGrant: Int64 = 0
        var cryptoGrant: Int64 = 0
    }

    func testVerifyPassesARealLedgerAndNamesEachCheckThatOneCorruptionBreaks() async throws {
        let db = try TestDatabase.create()
        let rows = try await build(db)

        let clean = try TallyRun.run(["ledger", "verify", "--json"], environment: ["DATABASE_URL": db.url])
        XCTAssertEqual(clean.status, 0, clean.stdout + clean.stderr)
        let report = try JSON.parse(clean.stdout)
        XCTAssertEqual(report["ok"]?.bool, true, clean.stdout)
        XCTAssertEqual(report["accounts"]?.int64, 4)
        XCTAssertEqual(report["checks"]?.array?.compactMap(\.string), LedgerVerifier.Check.allCases.map(\.rawValue))
        XCTAssertEqual(report["failures"]?.array?.count, 0)
        XCTAssertEqual(try TallyRun.run(["ledger", "verify"], environment: ["DATABASE_URL": db.url]).stdout,
                       "ok: 4 account(s), every invariant holds\n")
        try await waitUntil("nobody is connected to the ledger to copy") {
            try Connection.connect(TestDatabase.url(for: "postgres"))
                .query("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1", [db.name]).first?.int64("n") == 0
        }

        // Each: what is corrupted, the check that must name it (user and row), and every check
        // that fails with it (some corruptions break more than one invariant by nature).
        try corrupt(db, "a grant's remainder", """
            UPDATE grants SET remaining = remaining - 1 WHERE id = \(rows.aliceAdjustment)
            """, names: .grantRemaining, user: "alice", row: ("grant_id", rows.aliceAdjustment), text: "grant \(rows.aliceAdjustment):",
            failing: [.accountBalance, .grantRemaining])
        try corrupt(db, "an account's debt", """
            UPDATE accounts SET debt = debt + 5 WHERE user_id = 'bob'
            """, names: .accountBalance, user: "bob", row: nil, text: "grants hold 25 less debt 5",
            failing: [.accountBalance, .debt])
        try corrupt(db, "an account's debt (the debt check)", """
            UPDATE accounts SET debt = debt + 5 WHERE user_id = 'bob'
            """, names: .debt, user: "bob", row: ("entry_id", rows.bobDebit), text: "entry \(rows.bobDebit):",
            failing: [.accountBalance, .debt])
        try corrupt(db, "an account's running total", """
            UPDATE accounts SET entries_total = entries_total + 7 WHERE user_id = 'bob'
            """, names: .accountTotal, user: "bob", row: nil, text: "running total is 32",
            failing: [.accountTotal, .balanceAfter])
        try corrupt(db, "an entry's balance_after", """
            ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only;
            UPDATE ledger_entries SET balance_after = balance_after + 1 WHERE id = \(rows.aliceGrantEntry);
            """, names: .balanceAfter, user: "alice", row: ("entry_id", rows.aliceGrantEntry), text: "entry \(rows.aliceGrantEntry):",
            failing: [.balanceAfter])
        try corrupt(db, "a debit's allocation", """
            ALTER TABLE ledger_allocations DISABLE TRIGGER ledger_allocations_append_only;
            UPDATE ledger_allocations SET amount = amount + 1 WHERE entry_id = \(rows.bobDebit);
            """, names: .entryAllocations, user: "bob", row: ("entry_id", rows.bobDebit), text: "entry \(rows.bobDebit):",
            failing: [.grantRemaining, .entryAllocations, .debt])
        try corrupt(db, "debt repaid from a new grant", """
            ALTER TABLE ledger_allocations DISABLE TRIGGER ledger_allocations_append_only;
            UPDATE ledger_allocations SET amount = amount - 9 WHERE entry_id = \(rows.repayingEntry) AND grant_id = \(rows.repayingGrant);
            """, names: .debt, user: payer, row: ("entry_id", rows.repayingEntry), text: "entry \(rows.repayingEntry): repays more debt",
            failing: [.grantRemaining, .debt])
        try corrupt(db, "an allocation moved to another user's grant", """
            ALTER TABLE ledger_allocations DISABLE TRIGGER ledger_allocations_append_only;
            UPDATE ledger_allocations SET grant_id = \(rows.bobGrant) WHERE entry_id = \(rows.aliceDebit) AND grant_id = \(rows.aliceAdjustment);
            """, names: .allocationOwner, user: "alice", row: ("grant_id", rows.bobGrant),
            text: "entry \(rows.aliceDebit): allocates from grant \(rows.bobGrant), which is bob's",
            failing: [.grantRemaining, .allocationOwner])
        try corrupt(db, "a payment's credits", """
            UPDATE payments SET credits = credits + 1 WHERE id = \(rows.payment)
            """, names: .paymentGrant, user: payer, row: ("payment_id", rows.payment), text: "payment \(rows.payment):",
            failing: [.paymentGrant])
        try corrupt(db, "a payment's grant taken away", """
            UPDATE payments SET grant_id = NULL WHERE id = \(rows.payment)
            """, names: .paymentGrant, user: payer, row: ("payment_id", rows.payment), text: "payment \(rows.payment): paid for 500 credits but bought no grant",
            failing: [.paymentGrant])
        try corrupt(db, "a grant pointing at a payment that does not exist", """
            ALTER TABLE grants DROP CONSTRAINT grants_payment_id_fkey;
            UPDATE grants SET payment_id = 999999 WHERE id = \(rows.topupGrant);
            """, names: .grantPayment, user: payer, row: ("payment_id", 999999),
            text: "grant \(rows.topupGrant): says it came from payment 999999, which does not exist",
            failing: [.paymentGrant, .grantPayment])
        try corrupt(db, "a purchase's credits", """
            UPDATE crypto_purchases SET credits = credits + 1 WHERE id = '\(purchase)'
            """, names: .purchaseGrant, user: "carol", row: ("grant_id", rows.cryptoGrant), text: "purchase \(purchase):",
            failing: [.purchaseGrant])
        try corrupt(db, "a purchase's grant given to another user", """
            UPDATE grants SET user_id = 'bob' WHERE id = \(rows.cryptoGrant)
            """, names: .purchaseGrant, user: "carol", row: ("grant_id", rows.cryptoGrant), text: "is bob's",
            failing: [.accountBalance, .allocationOwner, .purchaseGrant])
    }

    /// In a fresh copy of `db`: runs `sql` as the database owner, then `tally ledger verify`
    /// (text and --json), which must exit 1 naming `check`, `user` and the row on one line.
    func corrupt(_ db: TestDatabase, _ what: String, _ sql: String, names check: LedgerVerifier.Check, user: String,
                 row: (String, Int64)?, text: String, failing: Set<LedgerVerifier.Check>,
                 file: StaticString = #filePath, line: UInt = #line) throws {
        let copy = try db.copy()
        defer { copy.drop() }
        try copy.connect().execute(sql)

        let json = try TallyRun.run(["ledger", "verify", "--json"], environment: ["DATABASE_URL": copy.url])
        XCTAssertEqual(json.status, 1, "\(what): \(json.stdout) \(json.stderr)", file: file, line: line)
        let report = try JSON.parse(json.stdout)
        XCTAssertEqual(report["ok"]?.bool, false, what, file: file, line: line)
        XCTAssertEqual(Set(report["failing_checks"]?.array?.compactMap(\.string) ?? []), Set(failing.map(\.rawValue)),
                       "\(what): \(json.stdout)", file: file, line: line)
        let named = (report["failures"]?.array ?? []).filter { f in
            f["check"]?.string == check.rawValue && f["user_id"]?.string == user && (f["problem"]?.string ?? "").contains(text)
                && (row.map { r in f["rows"]?[r.0]?.int64 == r.1 } ?? true)
        }
        XCTAssertEqual(named.count, 1, "\(what): one \(check.rawValue) failure for \(user) naming \(text): \(json.stdout)", file: file, line: line)
        XCTAssertTrue(json.stderr.contains("tally ledger verify: ") && json.stderr.contains(user), "\(what): \(json.stderr)", file: file, line: line)

        let plain = try TallyRun.run(["ledger", "verify"], environment: ["DATABASE_URL": copy.url])
        XCTAssertEqual(plain.status, 1, what, file: file, line: line)
        let lines = plain.stdout.split(separator: "\n").filter { $0.hasPrefix(check.rawValue + " ") && $0.contains(" \(user) ") && $0.contains(text) }
        XCTAssertEqual(lines.count, 1, "\(what): one line names \(check.rawValue), \(user) and \(text): \(plain.stdout)", file: file, line: line)
    }

    /// alice: a reward and an adjustment, a debit taking from both. bob: a grant, a debit.
    /// The payer: a Stripe top-up of 500, a debit of 300, a refund of half the charge (251
    /// taken: 200 from the top-up, 51 as debt), a grant of 100 that repays the debt. carol: a
    /// late crypto purchase an operator confirms, then a debit.
    func build(_ db: TestDatabase) async throws -> Rows {
        var rows = Rows()
        let harness = try WorkerHarness(db, cron: false)
        do {
            let c = try db.connect()
            let alice = try LedgerFixtures.account("alice", on: c, grants: [(.reward, 30, LedgerFixtures.days(5)), (.adjustment, 100, nil)])
            rows.aliceReward = alice[0]
            rows.aliceAdjustment = alice[1]
            rows.bobGrant = try LedgerFixtures.account("bob", on: c, grants: [(.adjustment, 40, nil)])[0]
            func debit(_ user: String, _ amount: Int64, _ reference: String) throws -> Int64 {
                let outcome = try c.transaction { try Ledger.debit(Debit(userID: user, amount: amount, reference: reference), on: $0) }
                guard case .applied = outcome else { throw LedgerError.invalid("debit \(reference): \(outcome)") }
                return try c.query("SELECT id FROM ledger_entries WHERE reference = $1", [reference]).first?.int64("id") ?? 0
            }
            rows.aliceDebit = try debit("alice", 50, "usage:alice:1")
            rows.bobDebit = try debit("bob", 15, "usage:bob:1")
            rows.aliceGrantEntry = try XCTUnwrap(c.query("SELECT entry_id FROM grants WHERE id = $1", [rows.aliceReward]).first).int64("entry_id")

            let topup = try await harness.finished(try StripeFixture.deliver(try StripeFixture.load("checkout.session.completed.payment_topup.json"), to: harness))
            XCTAssertEqual(topup.state, "completed", "\(topup.errors)")
            let payment = try XCTUnwrap(c.query("SELECT id, grant_id FROM payments WHERE user_id = $1", [payer]).first)
            rows.payment = try payment.int64("id")
            rows.topupGrant = try payment.int64("grant_id")
            _ = try debit(payer, 300, "usage:payer:1")
            let refund = try await harness.finished(try StripeFixture.deliver(try StripeFixture.load("charge.refunded.partial_topup.json"), to: harness))
            XCTAssertEqual(refund.result?["taken"]?.int64, 251, "\(refund.errors)")
            XCTAssertEqual(try LedgerFixtures.debt(payer, on: c), 51)
            let repaid = try XCTUnwrap(try c.transaction { tx in
                try Ledger.grant(NewGrant(userID: self.payer, source: .adjustment, amount: 100, reference: "admin:goodwill"), on: tx)
            })
            rows.repayingGrant = try XCTUnwrap(repaid.grantID)
            rows.repayingEntry = try XCTUnwrap(c.query("SELECT id FROM ledger_entries WHERE reference = 'admin:goodwill'").first).int64("id")
            XCTAssertEqual(try LedgerFixtures.debt(payer, on: c), 0)
            XCTAssertEqual(try LedgerFixtures.balance(payer, on: c), 49)

            try c.execute("""
                INSERT INTO crypto_purchases (id, user_id, product, coin, status, credits, usd_cents, price_usd, amount_base_units,
                                              address, wallet_id, quoted_at, expires_at, received_base_units, confirmations, created_at)
                VALUES ('\(purchase)', 'carol', 'topup_100', 'btc', 'late', 100, 499, 63968.12, 7801, 'bc1qcarol', 'w', now() - interval '1 hour',
                        now() - interval '30 minutes', 7801, 4, now() - interval '1 hour')
                """)
            let confirm = try await harness.finished(try harness.enqueue(CryptoConfirmManualJob.kind, ["purchase_id": .string(purchase), "actor": "ops:test"],
                                                                         queue: CryptoConfirmManualJob.queue))
            XCTAssertEqual(confirm.result?["status"]?.string, "paid", "\(confirm.errors)")
            rows.cryptoGrant = try XCTUnwrap(c.query("SELECT grant_id FROM crypto_purchases WHERE id = $1::uuid", [purchase]).first).int64("grant_id")
            _ = try debit("carol", 10, "usage:carol:1")
        }
        await harness.stop()
        return rows
    }
}
