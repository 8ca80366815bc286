import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// Holds against a real PostgreSQL and real workers (DESIGN.md, "Holds"): reserve, capture,
/// void, expiry, the grants credits return to, concurrency, and `tally ledger verify` after each.
final class HoldsTests: XCTestCase {
    func hold(_ worker: WorkerHarness, _ user: String, key: String, credits: Int64, expiresIn: Int64? = nil) async throws -> (id: String, result: JSON?) {
        let id = Hold.id(userID: user, idempotencyKey: key)
        var args: [String: JSON] = ["hold_id": .string(id), "user_id": .string(user), "credits": .int(credits)]
        if let expiresIn { args["expires_in"] = .int(expiresIn) }
        let done = try await worker.finished(try worker.enqueue(HoldCreateJob.kind, .object(args)))
        XCTAssertEqual(done.state, "completed", "\(done.errors)")
        return (id, done.result)
    }

    func capture(_ worker: WorkerHarness, _ id: String, credits: Int64?, key: String = "c") async throws -> JSON? {
        var args: [String: JSON] = ["hold_id": .string(id), "idempotency_key": .string(key)]
        if let credits { args["credits"] = .int(credits) }
        let done = try await worker.finished(try worker.enqueue(HoldCaptureJob.kind, .object(args)))
        XCTAssertEqual(done.state, "completed", "\(done.errors)")
        return done.result
    }

    func testReserveCaptureAndVoidMoveCreditsThroughTheGrantsTheyCameFrom() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let grants = try LedgerFixtures.account("u1", on: c, grants: [(.reward, 10, LedgerFixtures.days(1)), (.topup, 30, nil)])
        let worker = try WorkerHarness(db, cron: false)
        defer { Task { await worker.stop() } }

        let (id, created) = try await hold(worker, "u1", key: "run-1", credits: 25)
        XCTAssertEqual(created?["status"], "held")
        XCTAssertEqual(created?["held"]?.int64, 25)
        XCTAssertEqual(created?["balance"]?.int64, 15, "held credits are not spendable")
        XCTAssertEqual(try LedgerFixtures.remaining(grants[0], on: c), 0, "the reward first, as a debit would")
        XCTAssertEqual(try LedgerFixtures.remaining(grants[1], on: c), 15)
        XCTAssertEqual(try LedgerReads.account("u1", on: c)?["held"]?.int64, 25)
        XCTAssertEqual(try LedgerReads.account("u1", on: c)?["balance"]?.int64, 15)
        XCTAssertEqual(try db.int("SELECT count(*) FROM notifications WHERE user_id = 'u1' AND type = 'hold_update'"), 1)
        try LedgerFixtures.assertVerified(c)

        // A replayed create answers the same hold; a capture of more than held is refused.
        let (again, replay) = try await hold(worker, "u1", key: "run-1", credits: 25)
        XCTAssertEqual(again, id)
        XCTAssertEqual(replay?["held"]?.int64, 25)
        let awaited1 = try await capture(worker, id, credits: 26, key: "too-much")?["error"]
        XCTAssertEqual(awaited1, "capture_exceeds_hold")
        XCTAssertEqual(try db.int("SELECT count(*) FROM holds WHERE status = 'held'"), 1, "a refused capture changes nothing")

        // The work cost 12: charged from the same grants in the same order, the rest back.
        let captured = try await capture(worker, id, credits: 12)
        XCTAssertEqual(captured?["status"], "captured")
        XCTAssertEqual(captured?["captured"]?.int64, 12)
        XCTAssertEqual(captured?["held"]?.int64, 0)
        XCTAssertEqual(captured?["balance"]?.int64, 28)
        XCTAssertEqual(try LedgerFixtures.remaining(grants[0], on: c), 0)
        XCTAssertEqual(try LedgerFixtures.remaining(grants[1], on: c), 28)
        XCTAssertEqual(try c.query("SELECT kind, amount FROM ledger_entries WHERE reference LIKE '%' || $1 ORDER BY id", [id]).map {
            "\(try $0.string("kind")) \(try $0.int64("amount"))"
        }, ["hold -25", "hold.release 25", "hold.capture -12"])
        // Captured twice (another key): its final state, nothing charged again.
        let twice = try await capture(worker, id, credits: 5, key: "other")
        XCTAssertEqual(twice?["captured"]?.int64, 12)
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), 28)
        try LedgerFixtures.assertVerified(c)

        // Voided: everything back; nothing given to capture: all of it.
        let (v, _) = try await hold(worker, "u1", key: "run-2", credits: 8)
        let voided = try await worker.finished(try worker.enqueue(HoldVoidJob.kind, ["hold_id": .string(v)]))
        XCTAssertEqual(voided.result?["status"], "voided")
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), 28)
        let (all, _) = try await hold(worker, "u1", key: "run-3", credits: 8)
        let awaited2 = try await capture(worker, all, credits: nil)?["captured"]?.int64
        XCTAssertEqual(awaited2, 8)
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), 20)
        let awaited3 = try await capture(worker, "hold_000000000000000000000000", credits: 1)?["error"]
        XCTAssertEqual(awaited3, "hold_not_found")
        // More than the balance: refused like usage.
        let id4 = Hold.id(userID: "u1", idempotencyKey: "run-4")
        let refused = try await worker.finished(try worker.enqueue(HoldCreateJob.kind, ["hold_id": .string(id4), "user_id": "u1", "credits": 21]))
        XCTAssertEqual(refused.result?["error"], "insufficient_credits")
        XCTAssertEqual(try db.int("SELECT count(*) FROM holds WHERE id = $1", [id4]), 0)
        try LedgerFixtures.assertVerified(c)
    }

    func testExpiredHoldsAreReleasedOnceAndCreditsOfAnExpiredGrantAreWrittenOff() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let clock = LedgerClock(on: c)
        let grants = try LedgerFixtures.account("u1", on: c, grants: [(.reward, 10, clock.day(1)), (.topup, 5, nil)])
        let worker = try WorkerHarness(db, cron: false)
        defer { Task { await worker.stop() } }
        let (id, _) = try await hold(worker, "u1", key: "k", credits: 12, expiresIn: 600)
        // Two days pass: the reward the hold took from has expired, and so has the hold.
        try clock.advance(to: clock.day(2))
        try c.execute("UPDATE holds SET expires_at = now() - interval '1 second'")
        let expire = try await worker.finished(try worker.enqueue(HoldsExpireJob.kind, [:], queue: "maintenance"))
        XCTAssertEqual(expire.result?["expired"]?.int64, 1)
        XCTAssertEqual(try Hold.read(id, on: c)?.status, .expired)
        XCTAssertEqual(try LedgerFixtures.remaining(grants[0], on: c), 10, "back to the reward it came from, though expired")
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), 5, "an expired grant's credits are not spendable")
        let again = try await worker.finished(try worker.enqueue(HoldsExpireJob.kind, [:], queue: "maintenance"))
        XCTAssertEqual(again.result?["expired"]?.int64, 0, "each hold ends once")
        let awaited4 = try await capture(worker, id, credits: 1)?["status"]
        XCTAssertEqual(awaited4, "expired", "a late capture answers the final state")
        let written = try await RewardsFixtures.runFanOut(db, kind: CreditsExpireJob.kind)
        XCTAssertNotNil(written)
        XCTAssertEqual(try LedgerFixtures.remaining(grants[0], on: c), 0, "written off as it would have been")
        try LedgerFixtures.assertVerified(c)
    }

    func testFiftyHoldsAtOnceOnAnAccountThatCoversTwentyTakeExactlyTwenty() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        _ = try LedgerFixtures.account("u1", on: c, grants: [(.topup, 20, nil)])
        let worker = try WorkerHarness(db, queues: ["default": 20], cron: false)
        defer { Task { await worker.stop() } }
        let jobs = try (0..<50).map { i in
            try worker.enqueue(HoldCreateJob.kind, ["hold_id": .string(Hold.id(userID: "u1", idempotencyKey: "k\(i)")), "user_id": "u1", "credits": 1])
        }
        var taken = 0, refused = 0
        for job in jobs {
            let done = try await worker.finished(job)
            if done.result?["status"] == "held" { taken += 1 } else if done.result?["error"] == "insufficient_credits" { refused += 1 }
        }
        XCTAssertEqual(taken, 20)
        XCTAssertEqual(refused, 30)
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), 0)
        XCTAssertEqual(try db.int("SELECT sum(reserved) FROM holds WHERE status = 'held'"), 20, "never over-reserved")

        // Captures racing voids and the expiry: each hold ends exactly once.
        try c.execute("UPDATE holds SET expires_at = now() + interval '200 milliseconds'")
        let ids = try c.query("SELECT id FROM holds ORDER BY id").map { try $0.string("id") }
        var racing: [Int64] = []
        for (i, id) in ids.enumerated() {
            racing.append(try worker.enqueue(HoldCaptureJob.kind, ["hold_id": .string(id), "idempotency_key": "a", "credits": 1]))
            if i % 2 == 0 { racing.append(try worker.enqueue(HoldVoidJob.kind, ["hold_id": .string(id)])) }
            if i % 5 == 0 { racing.append(try worker.enqueue(HoldsExpireJob.kind, [:], queue: "default")) }
        }
        for job in racing { _ = try await worker.finished(job) }
        try await waitUntil("every hold ended") { try db.int("SELECT count(*) FROM holds WHERE status = 'held'") == 0 }
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'hold.release'"), 20, "one release per hold")
        let captured = try db.int("SELECT count(*) FROM holds WHERE status = 'captured'")
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), 20 - captured, "what was captured is charged, the rest is back")
        try LedgerFixtures.assertVerified(c)
    }
}
