import Foundation
@testable import Jobs
import Support
import XCTest

/// The rules as plain values, without a database: caps, streak transitions and milestones,
/// referral eligibility. Each boundary is tested on both sides, so an off-by-one fails.
final class RewardRulesTests: XCTestCase {
    // MARK: Caps

    func testCapGrantsUpToTheCapExactlyAndNothingPastIt() {
        let like = RewardRule(action: "post_like", credits: 1, dailyCap: 5)
        XCTAssertEqual(like.credits(earnedToday: 0), 1)
        XCTAssertEqual(like.credits(earnedToday: 4), 1, "the 5th like reaches the cap exactly: paid")
        XCTAssertEqual(like.credits(earnedToday: 5), 0, "the 6th, one over the cap: nothing")
        XCTAssertEqual(like.credits(earnedToday: 6), 0)

        let watch = RewardRule(action: "watch_milestone", credits: 2, dailyCap: 10)
        XCTAssertEqual(watch.credits(earnedToday: 8), 2, "8 + 2 = 10, exactly the cap")
        XCTAssertEqual(watch.credits(earnedToday: 9), 1, "an action that would cross the cap grants up to it")
        XCTAssertEqual(watch.credits(earnedToday: 10), 0)

        let odd = RewardRule(action: "big", credits: 3, dailyCap: 10)
        let sequence = (0..<5).reduce(into: [Int64]()) { paid, _ in paid.append(odd.credits(earnedToday: paid.reduce(0, +))) }
        XCTAssertEqual(sequence, [3, 3, 3, 1, 0], "a day's credits never pass the cap")
        XCTAssertEqual(RewardRule(action: "x", credits: 1, dailyCap: 0).credits(earnedToday: 0), 0)
        XCTAssertEqual(RewardRule(action: "x", credits: 0, dailyCap: 5).credits(earnedToday: 0), 0)
    }

    func testActionNames() {
        XCTAssertTrue(RewardRule.validAction("daily_login"))
        XCTAssertTrue(RewardRule.validAction("a.b-c9"))
        XCTAssertFalse(RewardRule.validAction("Daily"))
        XCTAssertFalse(RewardRule.validAction("9lives"))
        XCTAssertFalse(RewardRule.validAction(""))
        XCTAssertFalse(RewardRule.validAction(String(repeating: "a", count: 65)))
    }

    // MARK: Streaks

    let d0 = UTCDay("2026-03-01")!

    /// Applies a run of days (true: active) from d0 and returns each day's payouts (days).
    func run(_ activity: [Bool], from start: StreakState = StreakState()) -> (StreakState, [[Int]]) {
        var state = start
        var paid: [[Int]] = []
        for (i, active) in activity.enumerated() {
            let r = state.applying(day: d0.advanced(by: i), active: active, milestones: StreakMilestone.defaults)
            state = r.state
            paid.append(r.paid.map(\.days))
        }
        return (state, paid)
    }

    func testMilestonesPayOnDayThreeAndSevenNotTheDayBeforeOrAfter() {
        let (state, paid) = run(Array(repeating: true, count: 8))
        XCTAssertEqual(paid[1], [], "day 2: nothing yet")
        XCTAssertEqual(paid[2], [3], "day 3: the 3-day milestone")
        XCTAssertEqual(paid[3], [], "day 4: not again")
        XCTAssertEqual(paid[5], [], "day 6: nothing")
        XCTAssertEqual(paid[6], [7], "day 7: the 7-day milestone")
        XCTAssertEqual(paid[7], [])
        XCTAssertEqual(state.length, 8)
        XCTAssertEqual(state.milestonePaid, 7)
        XCTAssertEqual(state.startedOn, d0)
        XCTAssertEqual(StreakMilestone.defaults.first { $0.days == 3 }?.credits, 2)
        XCTAssertEqual(StreakMilestone.defaults.first { $0.days == 7 }?.credits, 5)
        XCTAssertEqual(StreakMilestone.defaults.first { $0.days == 30 }?.credits, 20)
    }

    func testThirtyDaysPaysThirtyOnce() {
        let (_, paid) = run(Array(repeating: true, count: 31))
        XCTAssertEqual(paid[28], [])
        XCTAssertEqual(paid[29], [30])
        XCTAssertEqual(paid[30], [])
        XCTAssertEqual(paid.flatMap { $0 }, [3, 7, 30], "each milestone once in the streak")
    }

    func testAMissedDayBreaksTheStreakAndARestartedStreakEarnsAgain() {
        // Active 3 days (pays 3), miss one, active 3 more (pays 3 again: a new streak).
        let (state, paid) = run([true, true, true, false, true, true, true])
        XCTAssertEqual(paid.flatMap { $0 }, [3, 3])
        XCTAssertEqual(state.length, 3)
        XCTAssertEqual(state.startedOn, d0.advanced(by: 4))
        XCTAssertEqual(state.best, 3)
        // Two active days, a miss, two active: no milestone (the streak is never 3 long).
        XCTAssertEqual(run([true, true, false, true, true]).1.flatMap { $0 }, [])
    }

    func testBreakStartExtendIdleAndReplay() {
        var s = StreakState()
        var r = s.applying(day: d0, active: false, milestones: StreakMilestone.defaults)
        XCTAssertEqual(r.change, .idle)
        s = r.state
        r = s.applying(day: d0.advanced(by: 1), active: true, milestones: StreakMilestone.defaults)
        XCTAssertEqual(r.change, .started)
        s = r.state
        r = s.applying(day: d0.advanced(by: 2), active: true, milestones: StreakMilestone.defaults)
        XCTAssertEqual(r.change, .extended)
        XCTAssertEqual(r.state.length, 2)
        // The same day again (a re-run): nothing changes, nothing pays.
        let again = r.state.applying(day: d0.advanced(by: 2), active: true, milestones: StreakMilestone.defaults)
        XCTAssertEqual(again.change, .unchanged)
        XCTAssertEqual(again.state, r.state)
        s = r.state
        r = s.applying(day: d0.advanced(by: 3), active: false, milestones: StreakMilestone.defaults)
        XCTAssertEqual(r.change, .broken)
        XCTAssertEqual(r.state.length, 0)
        XCTAssertEqual(r.state.milestonePaid, 0)
        XCTAssertEqual(r.state.best, 2)
        // A gap the evaluation never saw (days not applied) is no extension.
        let gap = StreakState(length: 5, startedOn: d0, lastActiveDay: d0.advanced(by: 4), milestonePaid: 3, best: 5,
                              evaluatedThrough: d0.advanced(by: 4))
        let after = gap.applying(day: d0.advanced(by: 6), active: true, milestones: StreakMilestone.defaults)
        XCTAssertEqual(after.change, .started)
        XCTAssertEqual(after.state.length, 1)
    }

    func testMilestoneSettings() throws {
        XCTAssertEqual(try StreakMilestone.parse("7=5, 3=2"), [StreakMilestone(days: 3, credits: 2), StreakMilestone(days: 7, credits: 5)])
        XCTAssertThrowsError(try StreakMilestone.parse("3=0"))
        XCTAssertThrowsError(try StreakMilestone.parse("0=1"))
        XCTAssertThrowsError(try StreakMilestone.parse("3=1,3=2"))
        XCTAssertThrowsError(try StreakMilestone.parse("three=2"))
        XCTAssertEqual(try StreakMilestone.configured(Environment([:])), StreakMilestone.defaults)
    }

    // MARK: Referrals

    func decide(referrer: String? = "alice", referred: String = "bob", uses: Int = 0, maxUses: Int = 100,
                rewarded: Bool = false, paid: Bool = true) -> ReferralEligibility {
        ReferralEligibility.decide(referrer: referrer, referred: referred, uses: uses, maxUses: maxUses, alreadyRewarded: rewarded,
                                   hasPaid: paid)
    }

    func testTheHundredthUseIsRewardedAndTheHundredAndFirstIsNot() {
        XCTAssertEqual(decide(uses: 98), .eligible)
        XCTAssertEqual(decide(uses: 99), .eligible, "99 used: the 100th use is allowed")
        XCTAssertEqual(decide(uses: 100), .refused("code_exhausted"), "100 used: the 101st is refused")
        XCTAssertEqual(decide(uses: 0, maxUses: 0), .refused("code_exhausted"))
    }

    func testSelfReferralRepeatsUnknownCodesAndUnpaidUsersAreRefused() {
        XCTAssertEqual(decide(referrer: "bob", referred: "bob"), .refused("self_referral"))
        XCTAssertEqual(decide(rewarded: true), .refused("already_rewarded"))
        XCTAssertEqual(decide(referrer: nil), .refused("unknown_code"))
        XCTAssertEqual(decide(paid: false), .refused("not_paid"))
        XCTAssertEqual(decide(), .eligible)
    }

    func testReferralCodes() {
        for _ in 0..<50 {
            let code = Referrals.randomCode()
            XCTAssertEqual(code.count, 8)
            XCTAssertEqual(Referrals.normalized(code), code)
            XCTAssertFalse(code.contains { "01OIL".contains($0) }, code)
        }
        XCTAssertEqual(Referrals.normalized("friend-2026"), "FRIEND-2026")
        XCTAssertNil(Referrals.normalized("abc"))
        XCTAssertNil(Referrals.normalized("has space"))
    }

    // MARK: Days

    func testUTCDays() {
        XCTAssertEqual(UTCDay(Timestamp.parse("2026-03-01T23:59:59.999Z")!).iso, "2026-03-01")
        XCTAssertEqual(UTCDay(Timestamp.parse("2026-03-02T00:00:00Z")!).iso, "2026-03-02")
        XCTAssertEqual(UTCDay(Timestamp.parse("2026-03-02T01:00:00+02:00")!).iso, "2026-03-01", "UTC, not local time")
        XCTAssertEqual(UTCDay("1969-12-31")?.daysSinceEpoch, -1)
        XCTAssertEqual(UTCDay("2026-02-28")!.advanced(by: 1).iso, "2026-03-01")
        XCTAssertNil(UTCDay("yesterday"))
    }
}
