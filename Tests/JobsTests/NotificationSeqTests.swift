import Dispatch
import Foundation
@testable import Jobs
import Postgres
import Support
import TestSupport
import XCTest

/// Every notification of a user carries `seq` 1, 2, 3, … with no gap, in commit order
/// (DESIGN.md, "Per-user events, gapless"; sql/0015).
final class NotificationSeqTests: XCTestCase {
    func testConcurrentChargesGetConsecutiveSeqsInCommitOrder() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        _ = try LedgerFixtures.account("u1", on: c, grants: [(.topup, 1000, nil)])
        _ = try LedgerFixtures.account("u2", on: c, grants: [(.topup, 1000, nil)])
        let failures = LockedBox<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 20) { i in
            do {
                let conn = try db.connect()
                for user in ["u1", "u2"] {
                    guard case .applied = try conn.transaction({ try Ledger.debit(Debit(userID: user, amount: 1, reference: "usage:\(user):\(i)"), on: $0) }) else {
                        throw LedgerError.invalid("debit \(i) refused")
                    }
                }
            } catch { failures.mutate { $0.append("\(error)") } }
        }
        XCTAssertEqual(failures.value, [])
        for user in ["u1", "u2"] {
            let rows = try c.query("SELECT id, seq FROM notifications WHERE user_id = $1 ORDER BY seq", [user])
            let seqs = try rows.map { try $0.int64("seq") }
            XCTAssertEqual(seqs, Array(1...21), "\(user): the grant and 20 charges, no gap, no repeat")
            let ids = try rows.map { try $0.int64("id") }
            XCTAssertEqual(ids, ids.sorted(), "seq follows the order the transactions wrote (under the account's lock)")
            XCTAssertEqual(try db.int("SELECT notification_seq FROM accounts WHERE user_id = $1", [user]), 21)
        }
        // A batch of several notifications for several users in one statement (a usage batch).
        try c.transaction { tx in
            let book = LedgerBook(tx)
            try book.load(["u1", "u2"])
            for i in 0..<3 {
                for user in ["u2", "u1"] { _ = try book.debit(Debit(userID: user, amount: 1, reference: "batch:\(user):\(i)")) }
            }
            try book.commit()
        }
        XCTAssertEqual(try c.query("SELECT seq FROM notifications WHERE user_id = 'u1' ORDER BY id").map { try $0.int64("seq") }, Array(1...24))

        // Polling by seq: exactly what came after, oldest first; the list gives seq too.
        let after = try XCTUnwrap(Inbox.list(userID: "u1", limit: 500, after: 20, on: c)?["notifications"]?.array)
        XCTAssertEqual(after.map { $0["seq"]?.int64 ?? 0 }, [21, 22, 23, 24])
        XCTAssertEqual(try Inbox.list(userID: "u1", limit: 2, after: 0, on: c)?["notifications"]?.array?.map { $0["seq"]?.int64 ?? 0 }, [1, 2])
        XCTAssertEqual(try Inbox.list(userID: "u1", limit: 5, on: c)?["notifications"]?.array?.first?["seq"]?.int64, 24, "newest first")
        XCTAssertEqual(try Inbox.list(userID: "u1", limit: 5, after: 24, on: c)?["notifications"]?.array?.count, 0)
        XCTAssertNil(try Inbox.list(userID: "nobody", after: 0, on: c))

        // The stream's reads: several users after their own seqs in one query, and the snapshot.
        let events = try Inbox.events(after: ["u1": 22, "u2": 23], limit: 100, on: c)
        XCTAssertEqual(events["u1"]?.map(\.seq), [23, 24])
        XCTAssertEqual(events["u2"]?.map(\.seq), [24])
        XCTAssertEqual(events["u1"]?.first?.json["user_id"], "u1")
        let snapshot = try XCTUnwrap(Inbox.snapshot(userID: "u1", on: c))
        XCTAssertEqual(snapshot.seq, 24)
        XCTAssertEqual(snapshot.balance, 1000 - 23)
        XCTAssertEqual(snapshot.oldestSeq, 1)
        XCTAssertNil(try Inbox.snapshot(userID: "nobody", on: c))
        try LedgerFixtures.assertVerified(c)
    }
}
