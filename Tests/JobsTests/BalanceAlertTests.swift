import Foundation
@testable import Jobs
import Postgres
import Support
import TestSupport
import XCTest

/// Balance alerts: once per crossing, never per entry (DESIGN.md, "Balance alerts").
final class BalanceAlertTests: XCTestCase {
    func testTheTransitions() {
        typealias S = BalanceAlert.State
        func t(_ s: S, _ b: Int64, refused: Bool = false) -> String {
            let (state, n) = BalanceAlert.transition(from: s, balance: b, threshold: 10, refused: refused)
            return "\(state.rawValue) \(n?.rawValue ?? "-")"
        }
        XCTAssertEqual(t(.ok, 10), "ok -", "at the threshold is not below it")
        XCTAssertEqual(t(.ok, 9), "low balance_low")
        XCTAssertEqual(t(.low, 5), "low -", "once per crossing")
        XCTAssertEqual(t(.low, 0), "depleted balance_depleted")
        XCTAssertEqual(t(.ok, 0), "depleted balance_depleted")
        XCTAssertEqual(t(.depleted, 0), "depleted -")
        XCTAssertEqual(t(.depleted, 4), "low -", "up from nothing but still low: no news")
        XCTAssertEqual(t(.low, 10), "ok balance_recovered")
        XCTAssertEqual(t(.depleted, 50), "ok balance_recovered")
        XCTAssertEqual(t(.low, 5, refused: true), "depleted balance_depleted", "a charge refused for lack of credits")
        XCTAssertEqual(t(.depleted, 5, refused: true), "depleted -")
    }

    func testEachCrossingIsNotifiedOnceInTheTransactionThatCrossedIt() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        _ = try LedgerFixtures.account("u1", on: c, grants: [(.topup, 20, nil)])
        func debit(_ n: Int64, _ key: String) throws -> DebitOutcome {
            try c.transaction { try Ledger.debit(Debit(userID: "u1", amount: n, reference: "usage:u1:\(key)"), on: $0) }
        }
        func alerts() throws -> [String] {
            try c.query("SELECT type FROM notifications WHERE user_id = 'u1' AND type LIKE 'balance\\_%' AND type <> 'balance_update' ORDER BY seq")
                .map { try $0.string("type") }
        }
        _ = try debit(11, "a")           // 9: below 10
        _ = try debit(1, "b")            // 8: still low
        XCTAssertEqual(try alerts(), ["balance_low"])
        _ = try debit(8, "c")            // 0
        XCTAssertEqual(try debit(1, "d"), .insufficient(balance: 0, required: 1))
        XCTAssertEqual(try alerts(), ["balance_low", "balance_depleted"], "reaching 0, and the refusal after it, once")
        try RewardsFixtures.pay("u1", credits: 15, on: c)
        XCTAssertEqual(try alerts(), ["balance_low", "balance_depleted", "balance_recovered"])
        XCTAssertEqual(try db.scalar("SELECT alert_state FROM accounts WHERE user_id = 'u1'"), "ok")
        // The account's own threshold.
        try c.query(LedgerQueries.setLowBalance, ["u1", Int64(100)])
        _ = try debit(1, "e")
        XCTAssertEqual(try alerts().last, "balance_low")
        let low = try XCTUnwrap(c.query("SELECT payload FROM notifications WHERE user_id = 'u1' AND type = 'balance_low' ORDER BY seq DESC LIMIT 1").first)
        XCTAssertEqual(try low.json("payload")["threshold"]?.int64, 100)
        XCTAssertEqual(try low.json("payload")["balance"]?.int64, 14)
        // A refusal on a low balance (not yet at 0) is depleted too.
        XCTAssertEqual(try debit(50, "f"), .insufficient(balance: 14, required: 50))
        XCTAssertEqual(try alerts().last, "balance_depleted")
        try LedgerFixtures.assertVerified(c)
    }

    func testAccountAlertsSetsAndClearsTheThreshold() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        _ = try LedgerFixtures.account("u1", on: c, grants: [(.topup, 20, nil)])
        let worker = try WorkerHarness(db, cron: false)
        defer { Task { await worker.stop() } }
        let set = try await worker.finished(try worker.enqueue(AccountAlertsJob.kind, ["user_id": "u1", "low_balance": 50]))
        XCTAssertEqual(set.result?["low_balance"]?.int64, 50)
        XCTAssertEqual(try db.scalar("SELECT low_balance::text FROM accounts WHERE user_id = 'u1'"), "50")
        let cleared = try await worker.finished(try worker.enqueue(AccountAlertsJob.kind, ["user_id": "u1", "low_balance": .null]))
        XCTAssertEqual(cleared.result?["low_balance"], .null)
        XCTAssertNil(try db.scalar("SELECT low_balance::text FROM accounts WHERE user_id = 'u1'"))
        let nobody = try await worker.finished(try worker.enqueue(AccountAlertsJob.kind, ["user_id": "nobody", "low_balance": 5]))
        XCTAssertEqual(nobody.result?["error"], "account_not_found")
    }
}
