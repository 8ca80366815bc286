import Queue
import XCTest

final class BackoffTests: XCTestCase {
    func testAttemptToTheFourthWithTenPercentJitterAndCap() {
        let b = Backoff(scale: 1)
        XCTAssertEqual(b.delay(afterAttempt: 1, unit: 0.5), 1)
        XCTAssertEqual(b.delay(afterAttempt: 2, unit: 0.5), 16)
        XCTAssertEqual(b.delay(afterAttempt: 3, unit: 0.5), 81)
        XCTAssertEqual(b.delay(afterAttempt: 5, unit: 0), 625 * 0.9, accuracy: 1e-9)
        XCTAssertEqual(b.delay(afterAttempt: 5, unit: 1), 625 * 1.1, accuracy: 1e-9)
        XCTAssertEqual(b.delay(afterAttempt: 17, unit: 0.5), 83521, "17⁴ s is just under the cap")
        XCTAssertEqual(b.delay(afterAttempt: 18, unit: 0.5), 24 * 3600, "18⁴ s is past the 24 h cap")
        XCTAssertEqual(b.delay(afterAttempt: 40, unit: 1), 24 * 3600, "jitter never goes past the cap")
        XCTAssertEqual(Backoff(scale: 0.001).delay(afterAttempt: 2, unit: 0.5), 0.016, accuracy: 1e-12)
        for _ in 0..<1000 {
            let d = b.delay(afterAttempt: 4)
            XCTAssertTrue((256 * 0.9...256 * 1.1).contains(d))
        }
    }

    func testOutcomesBecomeRowChanges() {
        let b = Backoff(scale: 1)
        XCTAssertEqual(Finish.decide(jobID: 1, attempt: 2, maxAttempts: 20, outcome: .failed(message: "x", permanent: false), backoff: b, unit: 0.5),
                       Finish(jobID: 1, attempt: 2, state: .retryable, delayMilliseconds: 16_000, errorMessage: "x"))
        XCTAssertEqual(Finish.decide(jobID: 1, attempt: 20, maxAttempts: 20, outcome: .failed(message: "x", permanent: false), backoff: b).state, .discarded)
        XCTAssertEqual(Finish.decide(jobID: 1, attempt: 1, maxAttempts: 20, outcome: .failed(message: "x", permanent: true), backoff: b).state, .discarded)
        XCTAssertEqual(Finish.decide(jobID: 1, attempt: 3, maxAttempts: 3, outcome: .snoozed(seconds: 2.5), backoff: b),
                       Finish(jobID: 1, attempt: 3, state: .scheduled, delayMilliseconds: 2500), "a snooze never discards")
        XCTAssertEqual(Finish.decide(jobID: 1, attempt: 1, maxAttempts: 1, outcome: .completed(result: ["a": 1]), backoff: b),
                       Finish(jobID: 1, attempt: 1, state: .completed, result: ["a": 1]))
    }
}
