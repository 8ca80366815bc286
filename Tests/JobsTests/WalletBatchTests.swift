import Foundation
@testable import Jobs
import Postgres
import Support
import TestSupport
import XCTest

/// Holds and transfers many at a time (`Holds+Batch.swift`, `Transfers+Batch.swift`): a batch
/// answers each request as it would alone, in order, in one transaction — refusals between
/// successes, the same hold or transfer twice, accounts another transaction holds deferred.
final class WalletBatchTests: XCTestCase {
    func testAHoldBatchAnswersEachInOrderAndTheSameHoldTwiceOnce() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        _ = try LedgerFixtures.account("a", on: c, grants: [(.topup, 10, nil)])
        _ = try LedgerFixtures.account("b", on: c, grants: [(.topup, 5, nil)])
        try c.execute("INSERT INTO agents (name, credits_per_unit) VALUES ('free', 0)")
        let h = (0..<4).map { Hold.id(userID: "a", idempotencyKey: "k\($0)") }
        let answers = try c.transaction { tx in
            try Holds.create([
                .init(id: h[0], userID: "a", amount: .credits(6), expiresIn: 60),
                .init(id: h[1], userID: "a", amount: .credits(6), expiresIn: 60),   // 4 left: refused
                .init(id: h[2], userID: "a", amount: .credits(4), expiresIn: 60),   // after a refusal: still taken
                .init(id: h[0], userID: "a", amount: .credits(6), expiresIn: 60),   // the first again: answered, not taken
                .init(id: h[3], userID: "nobody", amount: .credits(1), expiresIn: 60),
                .init(id: Hold.id(userID: "b", idempotencyKey: "x"), userID: "b", amount: .units(agent: "no-such-agent", units: 1), expiresIn: 60),
                .init(id: Hold.id(userID: "b", idempotencyKey: "y"), userID: "b", amount: .units(agent: "free", units: 3), expiresIn: 60),
            ], mayDefer: false, on: tx)
        }
        // Nothing to hold (a free agent): that job fails alone; the batch's others stand.
        guard case .failed(let why) = answers[6] else { return XCTFail("a hold of 0 credits: \(answers[6])") }
        XCTAssertTrue(why.contains("positive amount"), why)
        let results = try answers.prefix(6).map { try $0.json() }
        XCTAssertEqual(results[0]["status"], "held")
        XCTAssertEqual(results[0]["balance"]?.int64, 4)
        XCTAssertEqual(results[1]["error"], "insufficient_credits")
        XCTAssertEqual(results[2]["status"], "held")
        XCTAssertEqual(results[2]["balance"]?.int64, 0)
        XCTAssertEqual(results[3]["hold_id"]?.string, h[0])
        XCTAssertEqual(results[3]["held"]?.int64, 6)
        XCTAssertEqual(results[4]["error"], "account_not_found")
        XCTAssertEqual(results[5]["error"], "unknown_agent")
        XCTAssertEqual(try db.int("SELECT count(*) FROM holds"), 2)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'hold'"), 2)

        // Ending: a capture, the same hold again (answered as ended, not charged twice), a void,
        // an unknown hold, more than held.
        let ended = try c.transaction { tx in
            try Holds.end([.init(id: h[0], amount: .credits(2)), .init(id: h[0], amount: .credits(6)), .void(h[2]),
                           .init(id: h[3], amount: nil), .init(id: h[2], amount: .credits(99))], mayDefer: false, on: tx)
        }.map { try $0.json() }
        XCTAssertEqual(ended[0]["status"], "captured")
        XCTAssertEqual(ended[0]["captured"]?.int64, 2)
        XCTAssertEqual(ended[0]["balance"]?.int64, 4, "4 of the hold's 6 back, 0 left beside it")
        XCTAssertEqual(ended[1]["captured"]?.int64, 2, "the same hold twice in a batch ends once")
        XCTAssertEqual(ended[2]["status"], "voided")
        XCTAssertEqual(ended[2]["balance"]?.int64, 8)
        XCTAssertEqual(ended[3]["error"], "hold_not_found")
        XCTAssertEqual(ended[4]["status"], "voided", "a hold ended earlier in the batch answers as it ended")
        XCTAssertEqual(try LedgerFixtures.balance("a", on: c), 8)
        try LedgerFixtures.assertVerified(c)
    }

    func testATransferBatchMovesEachOnceAndDefersWhatAnotherTransactionHolds() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        for u in ["a", "b", "c"] { _ = try LedgerFixtures.account(u, on: c, grants: [(.topup, 10, nil)]) }
        let t = (0..<4).map { Transfers.id(fromUserID: "a", idempotencyKey: "t\($0)") }
        // Another session holds c's account: with mayDefer, the transfer to c waits for later.
        let other = try db.connect()
        try other.execute("BEGIN")
        try other.execute("SELECT 1 FROM accounts WHERE user_id = 'c' FOR UPDATE")
        let first = try c.transaction { tx in
            try Transfers.create([
                .init(id: t[0], from: "a", to: "b", credits: 4, escrowFor: nil, memo: nil),
                .init(id: t[1], from: "a", to: "c", credits: 1, escrowFor: nil, memo: nil),
                .init(id: t[2], from: "a", to: "b", credits: 7, escrowFor: nil, memo: nil),   // 6 left: refused
                .init(id: t[0], from: "a", to: "b", credits: 4, escrowFor: nil, memo: nil),   // again: answered once
                .init(id: t[3], from: "b", to: "a", credits: 14, escrowFor: 60, memo: "all of it"), // b has 14 now
            ], promotional: false, mayDefer: true, on: tx)
        }
        try other.execute("ROLLBACK")
        XCTAssertEqual(first[1], .deferred)
        XCTAssertEqual(try first[0].json()["status"], "completed")
        XCTAssertEqual(try first[0].json()["balance"]?.int64, 6)
        XCTAssertEqual(try first[2].json()["error"], "insufficient_credits")
        XCTAssertEqual(try first[3].json()["transfer_id"]?.string, t[0])
        XCTAssertEqual(try first[4].json()["status"], "escrowed")
        XCTAssertEqual(try first[4].json()["balance"]?.int64, 0)
        XCTAssertEqual(try LedgerFixtures.balance("a", on: c), 6)
        XCTAssertEqual(try LedgerFixtures.balance("b", on: c), 0)
        XCTAssertEqual(try LedgerFixtures.balance("c", on: c), 10, "deferred: nothing moved")
        XCTAssertEqual(try db.int("SELECT count(*) FROM transfers"), 2)
        XCTAssertEqual(try db.int("SELECT count(*) FROM notifications WHERE type = 'transfer_update'"), 4, "both sides of each")

        let second = try c.transaction { tx in
            try Transfers.create([.init(id: t[1], from: "a", to: "c", credits: 1, escrowFor: nil, memo: nil)],
                                 promotional: false, mayDefer: false, on: tx)
        }
        XCTAssertEqual(try second[0].json()["status"], "completed")
        XCTAssertEqual(try LedgerFixtures.balance("c", on: c), 11)
        try LedgerFixtures.assertVerified(c)
    }
}
