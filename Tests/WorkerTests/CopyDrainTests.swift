import Foundation
import JobRuntime
import Jobs
import Postgres
import Queue
import Support
import TestSupport
import Worker
import XCTest

/// Jobs that went in by COPY are claimed and run like any other.
final class CopyDrainTests: XCTestCase {
    func testWorkersRunJobsInsertedByCopy() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        // 3,000 due now, and 200 due in a second: the scheduler promotes those.
        let soon = Date().addingTimeInterval(1)
        let jobs = (0..<3200).map { i in
            NewJob(kind: "bench.noop", args: ["n": .int(i)], queue: "default", priority: i % 10, runAt: i >= 3000 ? soon : nil)
        }
        XCTAssertGreaterThan(jobs.count, Enqueuer.copyThreshold)
        let ids = try Enqueuer().enqueue(jobs, on: c).map(\.id)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE state = 'scheduled'"), 200)
        let environment = Environment([:])
        let config = try WorkerConfig(queues: ["default": 50], label: "copy", environment: environment)
        let pool = WorkerPool(config: config, registry: try JobRegistry.standard(environment: environment),
                              databaseURL: db.url, environment: environment)
        let task = Task { try await pool.run() }
        try await waitUntil("every COPY-inserted job completed", timeout: 120) {
            try db.int("SELECT count(*) FROM jobs WHERE state = 'completed'") == 3200
        }
        pool.shutdown()
        try await task.value
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE id = ANY($1::bigint[]) AND attempt = 1 AND finished_at IS NOT NULL", [ids]), 3200)
    }
}
