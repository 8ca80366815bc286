import Foundation
@testable import Jobs
import Support
import XCTest

/// Rollover arithmetic without a database (RolloverRule).
final class RolloverRuleTests: XCTestCase {
    let jan31 = Timestamp.parse("2026-01-31T00:00:00Z")!
    let feb28 = Timestamp.parse("2026-02-28T00:00:00Z")!
    let rule = RolloverRule(cap: 250)

    func due(_ amounts: Int64...) -> [RolloverRule.DueGrant] { amounts.map { .init(remaining: $0, expiresAt: jan31) } }

    func testUpToTheCapRollsAndTheRestIsWrittenOff() {
        let at = rule.settle(due: due(250), liveRollover: 0, ended: false, knownPeriodEnds: [])
        XCTAssertEqual(at.rolled, 250, "exactly the cap rolls whole")
        XCTAssertEqual(at.writtenOff, 0)
        let over = rule.settle(due: due(200, 51), liveRollover: 0, ended: false, knownPeriodEnds: [])
        XCTAssertEqual(over.left, 251)
        XCTAssertEqual(over.rolled, 250, "one over the cap: the cap rolls")
        XCTAssertEqual(over.writtenOff, 1)
        let under = rule.settle(due: due(249), liveRollover: 0, ended: false, knownPeriodEnds: [])
        XCTAssertEqual(under.rolled, 249)
        XCTAssertEqual(under.writtenOff, 0)
    }

    func testAnEndedSubscriptionRollsNothing() {
        let s = rule.settle(due: due(100, 30), liveRollover: 0, ended: true, knownPeriodEnds: [feb28])
        XCTAssertEqual(s, RolloverRule.Settlement(left: 130, rolled: 0, writtenOff: 130, expiresAt: nil))
    }

    func testTheNewGrantExpiresAtTheNextKnownPeriodEndElseOneMonthLater() {
        let known = rule.settle(due: due(10), liveRollover: 0, ended: false,
                                knownPeriodEnds: [jan31, Timestamp.parse("2026-03-31T00:00:00Z")!, feb28])
        XCTAssertEqual(known.expiresAt, feb28, "the first period end after theirs")
        let unknown = rule.settle(due: due(10), liveRollover: 0, ended: false, knownPeriodEnds: [jan31])
        XCTAssertEqual(unknown.expiresAt, feb28, "Jan 31 + one month = Feb 28 (2026 is no leap year)")
        XCTAssertEqual(RolloverRule.oneMonth(after: Timestamp.parse("2028-01-31T12:00:00Z")!), Timestamp.parse("2028-02-29T12:00:00Z")!)
        XCTAssertEqual(RolloverRule.oneMonth(after: Timestamp.parse("2026-04-15T08:30:00Z")!), Timestamp.parse("2026-05-15T08:30:00Z")!)
    }

    func testTheCapHoldsAcrossMonthsWithOtherLiveRolloverCredits() {
        let s = rule.settle(due: due(200), liveRollover: 100, ended: false, knownPeriodEnds: [])
        XCTAssertEqual(s.rolled, 150, "100 already carried over: room for 150")
        XCTAssertEqual(s.writtenOff, 50)
        let full = rule.settle(due: due(200), liveRollover: 250, ended: false, knownPeriodEnds: [])
        XCTAssertEqual(full.rolled, 0)
        XCTAssertNil(full.expiresAt)
    }

    func testSeveralExpiriesSettleTogetherFromTheLatest() {
        let s = rule.settle(due: [.init(remaining: 100, expiresAt: jan31), .init(remaining: 200, expiresAt: feb28)],
                            liveRollover: 0, ended: false, knownPeriodEnds: [])
        XCTAssertEqual(s.rolled, 250)
        XCTAssertEqual(s.writtenOff, 50)
        XCTAssertEqual(s.expiresAt, Timestamp.parse("2026-03-28T00:00:00Z"), "one month after the latest expiry")
    }
}
