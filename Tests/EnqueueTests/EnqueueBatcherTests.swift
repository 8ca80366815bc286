import Enqueue
import Foundation
import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// The batcher alone, against a real database.
final class EnqueueBatcherTests: XCTestCase {
    static func item(_ key: String, event payload: String? = nil) throws -> EnqueueBatcher.Item {
        let job = try StripeEventJob.newJob(.init(event_id: key), uniqueKey: "stripe:\(key)")
        let event = payload.map { StripeInboxEvent(id: key, type: "t", apiVersion: nil, created: 1, payload: $0) }
        return EnqueueBatcher.Item(job: job, companion: event)
    }

    /// A request the database refuses inside a batch fails alone: the batch is retried one by
    /// one and the others are committed.
    func testOneRefusedRequestDoesNotFailItsBatch() async throws {
        let db = try TestDatabase.create()
        let pool = db.pool(1)
        let batcher = EnqueueBatcher(pool: pool, enqueuer: Enqueuer(), metrics: Metrics(), maxBatch: 10, maxConcurrent: 1)
        // Hold the only connection so that the requests below queue up into one batch.
        let gate = DispatchSemaphore(value: 0)
        let held = LockedBox(false)
        let holder = Task { try await pool.withConnection { _ in held.mutate { $0 = true }; gate.wait() } }
        try await waitUntil("the connection is held") { held.value }
        let (a, b, c) = (try Self.item("evt_first", event: #"{"id":"evt_first","type":"t"}"#),
                         try Self.item("evt_bad", event: #"{"id":"evt_bad","type":"t","x": "\u0000"}"#),
                         try Self.item("evt_good", event: #"{"id":"evt_good","type":"t"}"#))
        let first = Task { try await batcher.submit(a) }
        try await waitUntil("the first request is taken into a flush") { batcher.flushing == 1 && batcher.queued == 0 }
        let bad = Task { try await batcher.submit(b) }
        try await waitUntil("queued") { batcher.queued == 1 }
        let good = Task { try await batcher.submit(c) }
        try await waitUntil("queued") { batcher.queued == 2 }
        gate.signal()
        try await holder.value
        _ = try await first.value
        do {
            _ = try await bad.value
            XCTFail("\\u0000 cannot be stored in jsonb")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState?.prefix(2), "22", "\(error)")
        }
        let goodResult = try await good.value
        XCTAssertTrue(goodResult.inserted)
        XCTAssertEqual(try db.int("SELECT count(*) FROM stripe_events"), 2)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs"), 2, "the refused request left nothing behind")
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE unique_key = 'stripe:evt_bad'"), 0)
    }
}
