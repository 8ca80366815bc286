import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// rewards.action against a real PostgreSQL: caps per user, action and UTC day; refusals;
/// replays; the activity record.
final class RewardsActionTests: XCTestCase {
    let day = UTCDay("2026-05-04")!

    func act(_ user: String, _ action: String, _ key: String, day: UTCDay? = nil, on c: Connection) throws -> JSON {
        try c.transaction { tx in
            try RewardsActionJob.apply(.init(user_id: user, action: action, idempotency_key: key), day: day ?? self.day, on: tx)
        }
    }

    func testPostLikesArePaidUpToTheCapOfFiveAndTheSixthIsNot() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try RewardsFixtures.openAccount("u1", on: c)
        for i in 1...5 {
            let r = try act("u1", "post_like", "like-\(i)", on: c)
            XCTAssertEqual(r["granted"]?.int64, 1, "like \(i) of 5 is within the cap")
            XCTAssertEqual(r["earned_today"]?.int64, Int64(i))
        }
        let sixth = try act("u1", "post_like", "like-6", on: c)
        XCTAssertEqual(sixth["granted"]?.int64, 0, "the 6th like is one over the cap")
        XCTAssertEqual(sixth["capped"]?.bool, true)
        XCTAssertEqual(sixth["balance"]?.int64, 5)
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), 5)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE user_id = 'u1' AND kind = 'reward'"), 5)
        XCTAssertEqual(try db.int("SELECT count(*) FROM reward_actions WHERE user_id = 'u1'"), 6, "the capped action is still activity")
        // The cap is per action and per day: another action and the next day pay again.
        XCTAssertEqual(try act("u1", "daily_login", "login-1", on: c)["granted"]?.int64, 1)
        XCTAssertEqual(try act("u1", "daily_login", "login-2", on: c)["granted"]?.int64, 0, "daily_login's cap is 1")
        XCTAssertEqual(try act("u1", "post_like", "like-7", day: day.advanced(by: 1), on: c)["granted"]?.int64, 1)
        // And per user.
        try RewardsFixtures.openAccount("u2", on: c)
        XCTAssertEqual(try act("u2", "post_like", "like-1", on: c)["granted"]?.int64, 1)
        try LedgerFixtures.assertVerified(c)
    }

    func testAnActionThatWouldCrossTheCapGrantsUpToIt() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try RewardsFixtures.openAccount("u1", on: c)
        // 3 credits per action, cap 10: 3, 3, 3, then 1 (not 3), then 0.
        XCTAssertEqual(try TallyRun.run(["rewards", "set", "watch_milestone", "3", "--daily-cap", "10"], environment: ["DATABASE_URL": db.url]).status, 0)
        let granted = try (1...5).map { try act("u1", "watch_milestone", "w\($0)", on: c)["granted"]?.int64 }
        XCTAssertEqual(granted, [3, 3, 3, 1, 0])
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), 10, "exactly the cap")
    }

    func testRefusalsChangeNothingAndReplaysPayOnce() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try RewardsFixtures.openAccount("u1", on: c)
        XCTAssertEqual(try act("u1", "juggling", "k1", on: c)["error"]?.string, "unknown_action")
        XCTAssertEqual(try act("ghost", "post_like", "k1", on: c)["error"]?.string, "account_not_found")
        XCTAssertEqual(try TallyRun.run(["rewards", "set", "ad_view", "1", "--off"], environment: ["DATABASE_URL": db.url]).status, 0)
        XCTAssertEqual(try act("u1", "ad_view", "k1", on: c)["error"]?.string, "reward_off")
        XCTAssertEqual(try db.int("SELECT count(*) FROM reward_actions"), 0, "refusals record no activity")
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries"), 0)

        let first = try act("u1", "post_like", "same", on: c)
        let again = try act("u1", "post_like", "same", on: c)
        XCTAssertEqual(first["granted"]?.int64, 1)
        XCTAssertEqual(again["granted"]?.int64, 1, "a replay answers what the first earned")
        XCTAssertEqual(again["replay"]?.bool, true)
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), 1, "and pays nothing more")
        XCTAssertEqual(try db.int("SELECT count(*) FROM reward_actions"), 1)
    }

    func testTheJobPaysWithinTheCapAndIsIdempotentByKey() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try RewardsFixtures.openAccount("u1", on: c)
        // As the ingress enqueues them (CONTRACTS.md): key activity:<user>:<key>.
        var ids: [Int64] = []
        for key in ["a", "b", "a"] {
            let args: JSON = ["user_id": "u1", "action": "daily_login", "idempotency_key": .string(key)]
            ids.append(try Enqueuer().enqueue(NewJob(kind: "rewards.action", args: args, queue: "default", uniqueKey: "activity:u1:\(key)"), on: c).id)
        }
        XCTAssertEqual(ids[0], ids[2], "the same key is the same job")
        let missing = try Enqueuer().enqueue(NewJob(kind: "rewards.action", args: ["user_id": "nobody", "action": "daily_login",
                                                                                   "idempotency_key": "z"], queue: "default"), on: c).id
        let worker = try WorkerHarness(db, cron: false)
        try await waitUntil("the jobs complete") {
            try db.int("SELECT count(*) FROM jobs WHERE kind = 'rewards.action' AND state = 'completed'") == 3
        }
        await worker.stop()
        let results = try c.query("SELECT id, result FROM jobs WHERE kind = 'rewards.action' ORDER BY id").map { try $0.json("result") }
        XCTAssertEqual(results.compactMap { $0["granted"]?.int64 }.sorted(), [0, 1], "daily_login pays once a day, whichever runs first")
        XCTAssertEqual(results[0]["day"]?.string, UTCDay(Date()).iso, "the day the action was accepted")
        XCTAssertEqual(try db.scalar("SELECT result->>'error' FROM jobs WHERE id = $1", [missing]), "account_not_found")
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), 1)
        XCTAssertEqual(try db.scalar("SELECT type FROM notifications WHERE user_id = 'u1'"), "reward_earned")
    }

    func testConcurrentActionsOfOneUserNeverPassTheCap() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try RewardsFixtures.openAccount("u1", on: c)
        let jobs = (0..<40).map { i in
            NewJob(kind: "rewards.action", args: ["user_id": "u1", "action": "post_like", "idempotency_key": .string("k\(i)")], queue: "default")
        }
        try Enqueuer().enqueue(jobs, on: c)
        let worker = try WorkerHarness(db, queues: ["default": 10], cron: false)
        try await waitUntil("40 actions done") {
            try db.int("SELECT count(*) FROM jobs WHERE state = 'completed'") == 40
        }
        await worker.stop()
        XCTAssertEqual(try LedgerFixtures.balance("u1", on: c), 5, "10 at a time, still exactly the cap")
        XCTAssertEqual(try db.int("SELECT sum(credits) FROM reward_actions"), 5)
        XCTAssertEqual(try db.int("SELECT count(*) FROM reward_actions"), 40)
    }
}
