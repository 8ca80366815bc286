import Queue
@testable import Worker
import XCTest

/// What this process holds when the same job is claimed again while a stale run still goes.
final class HeldJobsTests: XCTestCase {
    func testALaterClaimReplacesAStaleRunWhichCanNoLongerTouchIt() async {
        let held = HeldJobs()
        let first = held.hold(7, attempt: 1, timeout: 30, now: 0)
        let stale = Task<Void, Never> { while !Task.isCancelled { await Task.yield() } }
        held.attach(first, task: stale)
        // The first claim's lease lapsed, the job was rescued, and this process claimed it again.
        let second = held.hold(7, attempt: 2, timeout: 30, now: 0)
        await stale.value  // returns only because the new claim cancelled it
        XCTAssertEqual(held.reason(first), .leaseLost, "the stale run learns why it was stopped")
        XCTAssertNil(held.reason(second))
        held.runEnded(first)
        held.release(first)
        XCTAssertEqual(held.runningCount, 1, "the stale run's end does not end the live one")
        XCTAssertTrue(held.leases.contains(second))
        XCTAssertFalse(held.cancel(first, reason: .leaseLost), "a lost lease of the stale claim cancels nothing")
        XCTAssertEqual(held.leases, [second], "only the live claim's lease is renewed")
        held.release([first])
        XCTAssertFalse(held.isEmpty)
        held.release([second])
        XCTAssertTrue(held.isEmpty)
    }

    func testATimedOutRunIsNotRenewedWhileItGoesOnAndIsOnceItEnded() {
        let held = HeldJobs()
        let slow = held.hold(1, attempt: 1, timeout: 1, now: 0)
        let other = held.hold(2, attempt: 1, timeout: 60, now: 0)
        XCTAssertEqual(held.renewable, [slow, other])
        XCTAssertEqual(held.cancelOverdue(now: 2_000_000_000), 0, "no task attached yet, but the run is marked")
        XCTAssertEqual(held.reason(slow), .timedOut(seconds: 1))
        XCTAssertEqual(held.renewable, [other], "the timed-out run's lease is left to lapse")
        XCTAssertEqual(held.leases, [slow, other], "it is still held")
        held.runEnded(slow)
        XCTAssertEqual(held.renewable, [slow, other], "its outcome is being written: renewed until it is")
        let cancelled = held.hold(3, attempt: 1, timeout: 60, now: 0)
        held.cancel(cancelled, reason: .operatorCancelled)
        XCTAssertTrue(held.renewable.contains(cancelled), "only timeouts stop renewal")
    }

    func testASnoozedJobClaimedAgainInTheSameAttemptIsAnotherClaim() {
        let held = HeldJobs()
        let first = held.hold(7, attempt: 1, timeout: 30, now: 0)
        // The run snoozed in its own transaction (attempt given back); the job came due and
        // was claimed again, in attempt 1 again, before the first run reported its end.
        let second = held.hold(7, attempt: 1, timeout: 30, now: 0)
        XCTAssertNotEqual(first, second)
        held.runEnded(first)
        held.release(first)
        XCTAssertEqual(held.leases, [second], "the first run's end leaves the second claim held")
        XCTAssertEqual(held.runningCount, 1)
    }
}
