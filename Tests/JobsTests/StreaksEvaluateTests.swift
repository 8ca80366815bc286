import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// streaks.evaluate against a real PostgreSQL: days extend and break streaks, milestones pay
/// once per streak, each day is applied once.
final class StreaksEvaluateTests: XCTestCase {
    let d1 = UTCDay("2026-04-01")!

    /// Records one login of `user` on day `d1 + n`.
    func active(_ user: String, day n: Int, on c: Connection) throws {
        _ = try c.transaction { tx in
            try RewardsActionJob.apply(.init(user_id: user, action: "daily_login", idempotency_key: "login-\(n)"), day: d1.advanced(by: n), on: tx)
        }
    }

    /// Evaluates every day up to and including day `d1 + n` (as the cron job does just after
    /// that day's midnight).
    func evaluate(through n: Int, _ db: TestDatabase) async throws -> JSON? {
        let asOf = Timestamp.iso8601(d1.advanced(by: n + 1).start.addingTimeInterval(300))
        let (state, result) = try await RewardsFixtures.runJob(db, kind: "streaks.evaluate", args: ["as_of": .string(asOf)], queue: "maintenance")
        XCTAssertEqual(state, "completed", "\(String(describing: result))")
        return result
    }

    func streakCredits(_ user: String, _ db: TestDatabase) throws -> [Int64] {
        let c = try db.connect()
        return try c.query("SELECT amount FROM ledger_entries WHERE user_id = $1 AND kind = 'streak' ORDER BY id", [user]).map { try $0.int64("amount") }
    }

    func testMilestonesPayOnTheThirdAndSeventhDayOnceEach() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try RewardsFixtures.openAccount("u1", on: c)
        for n in 0..<8 { try active("u1", day: n, on: c) }
        _ = try await evaluate(through: 1, db)
        XCTAssertEqual(try streakCredits("u1", db), [], "day 2: nothing")
        _ = try await evaluate(through: 2, db)
        XCTAssertEqual(try streakCredits("u1", db), [2], "day 3: the 3-day milestone, 2 credits")
        _ = try await evaluate(through: 3, db)
        XCTAssertEqual(try streakCredits("u1", db), [2], "day 4: not again")
        _ = try await evaluate(through: 5, db)
        XCTAssertEqual(try streakCredits("u1", db), [2], "day 6: nothing")
        let day7 = try await evaluate(through: 6, db)
        XCTAssertEqual(try streakCredits("u1", db), [2, 5], "day 7: the 7-day milestone, 5 credits")
        XCTAssertEqual(day7?["days"]?[0]?["milestones"]?.int64, 1)
        XCTAssertEqual(try db.int("SELECT length FROM streaks WHERE user_id = 'u1'"), 7)
        XCTAssertEqual(try db.scalar("SELECT type FROM notifications WHERE payload->>'kind' = 'streak' LIMIT 1"), "reward_earned")

        // The same day again (an operator's re-run): nothing.
        let again = try await evaluate(through: 6, db)
        XCTAssertEqual(again?["days"]?.array?.count, 0)
        XCTAssertEqual(try streakCredits("u1", db), [2, 5])
        try LedgerFixtures.assertVerified(c)
    }

    func testAMissedDayBreaksTheStreakAndARestartEarnsTheMilestoneAgain() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try RewardsFixtures.openAccount("u1", on: c)
        try RewardsFixtures.openAccount("u2", on: c)
        // u1: days 0,1,2 (milestone), miss 3, days 4,5,6 (a new streak: milestone again).
        for n in [0, 1, 2, 4, 5, 6] { try active("u1", day: n, on: c) }
        // u2: days 0,1, miss 2, days 3,4: never three in a row.
        for n in [0, 1, 3, 4] { try active("u2", day: n, on: c) }
        // Catch-up: one run applies every day not evaluated yet, in order.
        let result = try await evaluate(through: 6, db)
        XCTAssertEqual(result?["days"]?.array?.count, 7)
        XCTAssertEqual(try streakCredits("u1", db), [2, 2])
        XCTAssertEqual(try streakCredits("u2", db), [])
        XCTAssertEqual(try db.scalar("SELECT length || '/' || started_on || '/' || best FROM streaks WHERE user_id = 'u1'"), "3/2026-04-05/3")
        XCTAssertEqual(try db.scalar("SELECT length || '/' || best FROM streaks WHERE user_id = 'u2'"), "0/2", "day 5 was missed")
        XCTAssertEqual(try db.int("SELECT count(DISTINCT reference) FROM ledger_entries WHERE kind = 'streak'"), 2,
                       "one reference per streak and milestone")
        XCTAssertEqual(try db.int("SELECT broken FROM streak_days WHERE day = '2026-04-04'"), 1)
    }

    func testManyUsersArePagedAndEachIsEvaluatedOnce() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        // 2,500 users (three pages of 1,000), each active on days 0-2.
        let users = try c.transaction { try RewardsFixtures.openAccounts("user", count: 2500, on: $0) }
        try c.transaction { tx in
            try tx.query("""
                INSERT INTO reward_actions (user_id, idempotency_key, action, day, credits)
                SELECT u, 'k' || d, 'daily_login', $2::date + d, 0 FROM unnest($1::text[]) u, generate_series(0, 2) d
                """, [users, d1.iso])
        }
        let result = try await evaluate(through: 2, db)
        XCTAssertEqual(result?["days"]?[2]?["milestones"]?.int64, 2500)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'streak'"), 2500)
        XCTAssertEqual(try db.int("SELECT count(*) FROM streaks WHERE length = 3 AND evaluated_through = $1::date", [d1.advanced(by: 2).iso]), 2500)
        try LedgerFixtures.assertVerified(c)
    }

    func testQueuedActionsOfTheDayAreWaitedForWithinTheGrace() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try RewardsFixtures.openAccount("u1", on: c)
        // A rewards.action accepted before midnight, not run yet (no worker on its queue).
        try Enqueuer().enqueue(NewJob(kind: "rewards.action", args: ["user_id": "u1", "action": "daily_login", "idempotency_key": "x"],
                                      queue: "default"), on: c)
        let today = UTCDay(Date())
        // The cron job for today evaluates yesterday; the queued action was accepted today: no wait.
        let pool = db.pool(2)
        let days = try await pool.withConnection { try StreaksEvaluateJob.daysToEvaluate(through: today.advanced(by: -1), on: $0) }
        XCTAssertEqual(days, [today.advanced(by: -1)])
        let waitYesterday = try await StreaksEvaluateJob.shouldWait(for: today.advanced(by: -1), grace: 86400 * 2, pool: pool)
        XCTAssertFalse(waitYesterday, "the queued action belongs to today")
        let waitToday = try await StreaksEvaluateJob.shouldWait(for: today, grace: 3600, pool: pool)
        XCTAssertTrue(waitToday, "today's evaluation would wait for it")
        let noGrace = try await StreaksEvaluateJob.shouldWait(for: today.advanced(by: -2), grace: 3600, pool: pool)
        XCTAssertFalse(noGrace, "past the grace period nothing waits")
    }
}
