import Foundation
import JobRuntime
import Jobs
import Postgres
import Queue
import Support
import TestSupport
import Worker
import XCTest

/// Worker pools in this process (several at once act like several workers).
final class WorkerPoolTests: XCTestCase {
    func startPool(_ db: TestDatabase, label: String, queues: [String: Int] = ["default": 5], registry: JobRegistry? = nil,
                   env: [String: String] = [:]) throws -> (WorkerPool, Task<Void, Error>) {
        let environment = Environment(env)
        let config = try WorkerConfig(queues: queues, label: label, environment: environment)
        let pool = WorkerPool(config: config, registry: try registry ?? JobRegistry.standard(environment: environment),
                              databaseURL: db.url, environment: environment)
        let task = Task { try await pool.run() }
        return (pool, task)
    }

    func testFailingHandlerRetriesWithBackoffRecordsEachErrorAndIsDiscardedAtMax() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let scale = 0.01
        let id = try Enqueuer().enqueue(NewJob(kind: "bench.fail", args: ["message": "card declined"], queue: "default", maxAttempts: 4), on: c).id
        let (pool, task) = try startPool(db, label: "w", env: ["TALLY_BACKOFF_SCALE": String(scale)])
        try await waitUntil("the job is discarded") { try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [id]) == "discarded" }
        pool.shutdown()
        try await task.value
        let job = try XCTUnwrap(JobStore.job(id: id, on: c))
        XCTAssertEqual(job.attempt, 4)
        XCTAssertEqual(job.errors.map(\.attempt), [1, 2, 3, 4], "one error record per attempt")
        XCTAssertTrue(job.errors.allSatisfy { $0.message == "card declined" })
        XCTAssertNotNil(job.finishedAt)
        // Attempt k+1 starts attempt⁴ × scale (± 10 %) after attempt k failed.
        let times = job.errors.map { Timestamp.parse($0.at)!.timeIntervalSince1970 }
        for k in 1...3 {
            let gap = times[k] - times[k - 1]
            let expected = pow(Double(k), 4) * scale
            XCTAssertGreaterThanOrEqual(gap, expected * 0.9, "gap after attempt \(k)")
            XCTAssertLessThan(gap, expected * 1.1 + 0.5, "gap after attempt \(k)")
        }
    }

    func testJobThatSucceedsOnItsThirdAttemptCompletes() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let id = try Enqueuer().enqueue(NewJob(kind: "bench.fail", args: ["succeed_on": 3], queue: "default"), on: c).id
        let (pool, task) = try startPool(db, label: "w", env: ["TALLY_BACKOFF_SCALE": "0.001"])
        try await waitUntil("completed") { try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [id]) == "completed" }
        pool.shutdown()
        try await task.value
        XCTAssertEqual(try db.scalar("SELECT attempt || ':' || jsonb_array_length(errors) || ':' || (result->>'attempt') FROM jobs WHERE id = $1", [id]), "3:2:3")
    }

    func testPermanentFailureIsDiscardedWithoutRetry() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let id = try Enqueuer().enqueue(NewJob(kind: "bench.fail", args: ["permanent": true], queue: "default"), on: c).id
        let bad = try Enqueuer().enqueue(NewJob(kind: "bench.effect", args: ["sleep_ms": "soon"], queue: "default"), on: c).id
        let (pool, task) = try startPool(db, label: "w")
        try await waitUntil("both discarded") {
            try db.int("SELECT count(*) FROM jobs WHERE id IN ($1, $2) AND state = 'discarded'", [id, bad]) == 2
        }
        pool.shutdown()
        try await task.value
        XCTAssertEqual(try db.int("SELECT attempt FROM jobs WHERE id = $1", [id]), 1)
        XCTAssertEqual(try db.scalar("SELECT errors->0->>'message' FROM jobs WHERE id = $1", [bad])?.hasPrefix("args do not fit bench.effect: sleep_ms"), true)
    }

    func testLeaseRenewalKeepsALongJobFromBeingRescued() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let id = try Enqueuer().enqueue(NewJob(kind: "bench.effect", args: ["sleep_ms": 3000], queue: "default"), on: c).id
        // A 1 s lease renewed every ~0.33 s, and a rescuer looking every 0.1 s.
        let env = ["TALLY_LEASE": "1s", "TALLY_RESCUE_INTERVAL": "100ms"]
        let (a, ta) = try startPool(db, label: "a", env: env)
        let (b, tb) = try startPool(db, label: "b", env: env)
        try await waitUntil("completed") { try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [id]) == "completed" }
        a.shutdown()
        b.shutdown()
        try await ta.value
        try await tb.value
        XCTAssertEqual(try db.int("SELECT attempt FROM jobs WHERE id = $1", [id]), 1, "never rescued")
        XCTAssertEqual(try db.int("SELECT count(*) FROM bench_effects"), 1)
    }

    func testCronWithThreeWorkersEnqueuesEachOccurrenceOnce() async throws {
        let db = try TestDatabase.create()
        var registry = try JobRegistry.standard(environment: Environment([:]))
        registry.schedule(CronSchedule(name: "tick", expression: try CronExpression("@every 1s"), kind: "bench.noop", queue: "default"))
        var pools: [(WorkerPool, Task<Void, Error>)] = []
        for label in ["w1", "w2", "w3"] { pools.append(try startPool(db, label: label, registry: registry)) }
        try await waitUntil("five occurrences ran", timeout: 30) {
            try db.int("SELECT count(*) FROM jobs WHERE kind = 'bench.noop' AND state = 'completed'") >= 5
        }
        for (p, _) in pools { p.shutdown() }
        for (_, t) in pools { try await t.value }
        let total = try db.int("SELECT count(*) FROM jobs WHERE kind = 'bench.noop'")
        // The unique index makes keys distinct; what must hold is that the key names the
        // occurrence (schedule and due time), so two workers enqueueing one occurrence collide.
        XCTAssertEqual(try db.int("SELECT count(DISTINCT args->>'as_of') FROM jobs WHERE kind = 'bench.noop'"), total,
                       "one job per occurrence: no occurrence twice")
        XCTAssertEqual(try db.int("""
            SELECT count(*) FROM jobs WHERE kind = 'bench.noop' AND unique_key IS DISTINCT FROM 'cron:tick:' || (args->>'as_of')
            """), 0, "each job keyed by its schedule and occurrence")
        let span = try db.int("""
            SELECT (EXTRACT(EPOCH FROM max((args->>'as_of')::timestamptz) - min((args->>'as_of')::timestamptz)))::bigint
            FROM jobs WHERE kind = 'bench.noop'
            """)
        XCTAssertEqual(span + 1, total, "every second between the first and last occurrence, none skipped")
        let last = try XCTUnwrap(db.scalar("SELECT last_enqueued_at::text FROM cron_schedules WHERE name = 'tick'"))
        let newest = try db.scalar("SELECT max((args->>'as_of')::timestamptz)::text FROM jobs WHERE kind = 'bench.noop'")
        XCTAssertEqual(last, newest, "cron_schedules records the newest occurrence enqueued")
    }
}
