import Queue
@testable import Worker
import XCTest

/// What this process holds when the same job is claimed again while a stale run still goes.
final class HeldJobsTests: XCTestCase {
    func testALaterClaimReplacesAStaleRunWhichCanNoLongerTouchIt() async {
        let held = HeldJobs()
        held.hold(7, attempt: 1, timeout: 30, now: 0)
        let stale = Task<Void, Never> { while !Task.isCancelled { await Task.yield() } }
        held.attach(7, attempt: 1, task: stale)
        // Attempt 1's lease lapsed, the job was rescued, and this process claimed it again.
        held.hold(7, attempt: 2, timeout: 30, now: 0)
        await stale.value  // returns only because the new claim cancelled it
        XCTAssertEqual(held.reason(7, attempt: 1), .leaseLost, "the stale run learns why it was stopped")
        XCTAssertNil(held.reason(7, attempt: 2))
        held.runEnded(7, attempt: 1)
        held.release(7, attempt: 1)
        XCTAssertEqual(held.runningCount, 1, "the stale run's end does not end the live one")
        XCTAssertTrue(held.holds(7, attempt: 2))
        XCTAssertEqual(held.leases.map(\.attempt), [2], "only the live attempt's lease is renewed")
        held.release([Finish(jobID: 7, attempt: 1, state: .completed)])
        XCTAssertFalse(held.isEmpty)
        held.release([Finish(jobID: 7, attempt: 2, state: .completed)])
        XCTAssertTrue(held.isEmpty)
    }
}
