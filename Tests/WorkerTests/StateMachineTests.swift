import Queue
@testable import Worker
import XCTest

/// The producer's and the completer's decisions, without a database.
final class StateMachineTests: XCTestCase {
    func testProducerClaimsWhenWorkIsExpectedAndInBatchesUnderLoad() {
        var p = ProducerState(limit: 100, maxBatch: 40, pollInterval: 2)
        XCTAssertEqual(p.next(now: 0), .claim(40), "first claim at start, capped by the batch size")
        p.claimed(40, asked: 40)
        XCTAssertEqual(p.next(now: 0.01), .claim(40), "a full claim means more are probably waiting")
        p.claimed(40, asked: 40)
        XCTAssertEqual(p.next(now: 0.02), .claim(20), "only as many as there are free slots")
        p.claimed(5, asked: 20)
        XCTAssertEqual(p.running, 85)
        // The queue is drained: wait for a NOTIFY or the poll.
        guard case .wait(let s?) = p.next(now: 0.03) else { return XCTFail("should wait for the poll") }
        XCTAssertEqual(s, 1.99, accuracy: 1e-9)
        p.woken()
        XCTAssertEqual(p.next(now: 0.04), .claim(15))
        p.claimed(15, asked: 15)
        XCTAssertEqual(p.next(now: 0.05), .wait(seconds: nil), "full: wait for jobs to end")
        // Slots come back one by one; the producer acts once a quarter of the batch is free.
        var wakes = 0
        for _ in 0..<10 { if p.jobFinished() { wakes += 1 } }
        XCTAssertEqual(wakes, 1, "woken once, when ten slots are free")
        XCTAssertEqual(p.next(now: 0.06), .claim(10))
    }

    func testProducerBacksOffWhenClaimsFail() {
        var p = ProducerState(limit: 10, maxBatch: 10, pollInterval: 2)
        XCTAssertEqual(p.next(now: 0), .claim(10))
        p.claimFailed(now: 0)
        XCTAssertEqual(p.next(now: 0.05), .wait(seconds: 0.05))
        XCTAssertEqual(p.next(now: 0.1), .claim(10))
        p.claimFailed(now: 0.1)
        guard case .wait(let s?) = p.next(now: 0.1) else { return XCTFail() }
        XCTAssertEqual(s, 0.2, accuracy: 1e-9, "the backoff doubles")
        p.stop()
        XCTAssertEqual(p.next(now: 10), .stop)
    }

    func testCompletionBatcherOneFlushAtATimeAndRetriesInOrder() {
        var b = CompletionBatcher<Finish>(maxBatch: 3)
        func f(_ id: Int64) -> Finish { Finish(jobID: id, attempt: 1, state: .completed) }
        XCTAssertTrue(b.add(f(1)), "idle: wake the flusher")
        let first = b.takeBatch()
        XCTAssertEqual(first?.map(\.jobID), [1])
        XCTAssertFalse(b.add(f(2)), "a flush is in flight: the next batch gathers")
        for id: Int64 in 3...5 { _ = b.add(f(id)) }
        XCTAssertNil(b.takeBatch(), "one flush at a time")
        b.flushSucceeded()
        let second = b.takeBatch()!
        XCTAssertEqual(second.map(\.jobID), [2, 3, 4], "at most maxBatch")
        guard case .retry(let wait) = b.flushFailed(second, refusedData: false) else { return XCTFail("a lost connection is retried") }
        XCTAssertGreaterThan(wait, 0)
        XCTAssertEqual(b.takeBatch()?.map(\.jobID), [2, 3, 4], "a failed batch is retried first")
        b.flushSucceeded()
        XCTAssertEqual(b.takeBatch()?.map(\.jobID), [5])
        b.flushSucceeded()
        XCTAssertTrue(b.isIdle)
    }

    func testCompletionBatcherSplitsARefusedBatchAndDropsOnlyTheRefusedJob() {
        var b = CompletionBatcher<Finish>(maxBatch: 3)
        func f(_ id: Int64) -> Finish { Finish(jobID: id, attempt: 1, state: .completed) }
        for id: Int64 in 1...4 { _ = b.add(f(id)) }
        let batch = b.takeBatch()!
        XCTAssertEqual(batch.map(\.jobID), [1, 2, 3])
        XCTAssertEqual(b.flushFailed(batch, refusedData: true), .retry(afterSeconds: 0), "split at once, no backoff")
        XCTAssertEqual(b.takeBatch()?.map(\.jobID), [1], "one at a time")
        b.flushSucceeded()
        let suspect = b.takeBatch()!
        XCTAssertEqual(suspect.map(\.jobID), [2])
        XCTAssertEqual(b.flushFailed(suspect, refusedData: true), .drop(f(2)), "refused alone: this is the bad one")
        XCTAssertEqual(b.takeBatch()?.map(\.jobID), [3], "the rest of the refused batch still one at a time")
        b.flushSucceeded()
        XCTAssertEqual(b.takeBatch()?.map(\.jobID), [4], "then batches again")
        b.flushSucceeded()
        XCTAssertTrue(b.isIdle)
    }
}
