import Dispatch
import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// Transfers between users against a real PostgreSQL and real workers (DESIGN.md, "Transfers
/// between users"): expiry kept, promotional credits held back, escrow released, refunded and
/// expired, A→B and B→A at once without a deadlock, `tally ledger verify` after each.
final class TransfersTests: XCTestCase {
    func transfer(_ worker: WorkerHarness, from: String, to: String, credits: Int64, key: String, escrow: Bool = false,
                  expiresIn: Int64? = nil) async throws -> JSON? {
        var args: [String: JSON] = ["transfer_id": .string(Transfers.id(fromUserID: from, idempotencyKey: key)), "from_user_id": .string(from),
                                    "to_user_id": .string(to), "credits": .int(credits)]
        if escrow { args["escrow"] = true }
        if let expiresIn { args["expires_in"] = .int(expiresIn) }
        let done = try await worker.finished(try worker.enqueue(TransferCreateJob.kind, .object(args)))
        XCTAssertEqual(done.state, "completed", "\(done.errors)")
        return done.result
    }

    func testAnImmediateTransferKeepsEachCreditsExpiryAndLeavesPromotionalCreditsBehind() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let soon = LedgerFixtures.days(3)
        _ = try LedgerFixtures.account("a", on: c, grants: [(.reward, 50, LedgerFixtures.days(1)), (.topup, 10, soon), (.topup, 30, nil)])
        _ = try LedgerFixtures.account("b", on: c)
        let worker = try WorkerHarness(db, cron: false)
        defer { Task { await worker.stop() } }

        let refused = try await transfer(worker, from: "a", to: "b", credits: 41, key: "too-much")
        XCTAssertEqual(refused?["error"], "insufficient_credits", "the reward's 50 may not be sent: 40 may")
        XCTAssertEqual(refused?["balance"]?.int64, 40)
        let done = try await transfer(worker, from: "a", to: "b", credits: 25, key: "k1")
        XCTAssertEqual(done?["status"], "completed")
        XCTAssertEqual(done?["balance"]?.int64, 65, "the sender keeps the reward and 15 of the top-ups")
        let received = try c.query("SELECT amount, expires_at FROM grants WHERE user_id = 'b' AND source = 'transfer' ORDER BY id").map {
            (try $0.int64("amount"), try $0.optDate("expires_at"))
        }
        XCTAssertEqual(received.map(\.0), [10, 15], "one grant per expiry, soonest first")
        XCTAssertEqual(received[0].1.map(Timestamp.iso8601), Timestamp.iso8601(soon), "each credit keeps the expiry it had")
        XCTAssertNil(received[1].1)
        XCTAssertEqual(try LedgerFixtures.balance("b", on: c), 25)
        XCTAssertEqual(try db.int("SELECT count(*) FROM notifications WHERE type = 'transfer_update'"), 2, "both sides")
        let again = try await transfer(worker, from: "a", to: "b", credits: 25, key: "k1")
        XCTAssertEqual(again?["transfer_id"], done?["transfer_id"], "a replay is the same transfer, moving nothing more")
        XCTAssertEqual(try LedgerFixtures.balance("b", on: c), 25)
        let nobody = try await transfer(worker, from: "a", to: "nobody", credits: 1, key: "k2")
        XCTAssertEqual(nobody?["error"], "account_not_found")
        XCTAssertEqual(nobody?["side"], "to_user_id")
        try LedgerFixtures.assertVerified(c)
    }

    func testEscrowIsReleasedRefundedOrExpiredOnce() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let grants = try LedgerFixtures.account("a", on: c, grants: [(.topup, 100, nil)])
        _ = try LedgerFixtures.account("b", on: c)
        let worker = try WorkerHarness(db, cron: false)
        defer { Task { await worker.stop() } }
        let escrowed = try await transfer(worker, from: "a", to: "b", credits: 30, key: "e1", escrow: true)
        XCTAssertEqual(escrowed?["status"], "escrowed")
        XCTAssertEqual(try LedgerFixtures.balance("a", on: c), 70)
        XCTAssertEqual(try LedgerFixtures.balance("b", on: c), 0, "nothing until released")
        let id1 = try XCTUnwrap(escrowed?["transfer_id"]?.string)
        let released = try await worker.finished(try worker.enqueue(TransferReleaseJob.kind, ["transfer_id": .string(id1)]))
        XCTAssertEqual(released.result?["status"], "released")
        XCTAssertEqual(try LedgerFixtures.balance("b", on: c), 30)
        let refundLate = try await worker.finished(try worker.enqueue(TransferRefundJob.kind, ["transfer_id": .string(id1)]))
        XCTAssertEqual(refundLate.result?["status"], "released", "ended once: a later refund answers its state")

        let second = try await transfer(worker, from: "a", to: "b", credits: 20, key: "e2", escrow: true)
        let id2 = try XCTUnwrap(second?["transfer_id"]?.string)
        let refunded = try await worker.finished(try worker.enqueue(TransferRefundJob.kind, ["transfer_id": .string(id2)]))
        XCTAssertEqual(refunded.result?["status"], "refunded")
        XCTAssertEqual(try LedgerFixtures.balance("a", on: c), 70)
        XCTAssertEqual(try LedgerFixtures.remaining(grants[0], on: c), 70, "back to the grant it came from")

        let third = try await transfer(worker, from: "a", to: "b", credits: 5, key: "e3", escrow: true, expiresIn: 60)
        let id3 = try XCTUnwrap(third?["transfer_id"]?.string)
        try c.execute("UPDATE transfers SET expires_at = now() - interval '1 second' WHERE id = '\(id3)'")
        let expired = try await worker.finished(try worker.enqueue(TransfersExpireJob.kind, [:], queue: "maintenance"))
        XCTAssertEqual(expired.result?["refunded"]?.int64, 1)
        XCTAssertEqual(try Transfers.read(id3, on: c)?.status, .refunded)
        XCTAssertEqual(try LedgerFixtures.balance("a", on: c), 70)
        try LedgerFixtures.assertVerified(c)
    }

    func testThirtyTransfersEachWayAtOnceNeverDeadlockAndConserveCredits() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        _ = try LedgerFixtures.account("a", on: c, grants: [(.topup, 1000, nil)])
        _ = try LedgerFixtures.account("b", on: c, grants: [(.topup, 1000, nil)])
        let deadlocksBefore = try db.int("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        let worker = try WorkerHarness(db, queues: ["default": 20], cron: false)
        defer { Task { await worker.stop() } }
        var jobs: [Int64] = []
        for i in 0..<30 {
            for (from, to) in [("a", "b"), ("b", "a")] {
                jobs.append(try worker.enqueue(TransferCreateJob.kind, ["transfer_id": .string(Transfers.id(fromUserID: from, idempotencyKey: "k\(i)")),
                                                                        "from_user_id": .string(from), "to_user_id": .string(to), "credits": .int(Int64(i + 1))]))
            }
        }
        for job in jobs {
            let done = try await worker.finished(job)
            XCTAssertEqual(done.result?["status"], "completed", "\(String(describing: done.result)) \(done.errors)")
        }
        XCTAssertEqual(try LedgerFixtures.balance("a", on: c) + LedgerFixtures.balance("b", on: c), 2000, "conserved")
        XCTAssertEqual(try LedgerFixtures.balance("a", on: c), 1000, "each sent what it received")
        XCTAssertEqual(try db.int("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"), deadlocksBefore)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE attempt > 1"), 0, "no job needed a second attempt")
        try LedgerFixtures.assertVerified(c)
    }
}
