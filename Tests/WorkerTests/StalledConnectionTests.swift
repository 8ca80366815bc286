import BenchJobs
import Foundation
import JobRuntime
import Postgres
import Queue
import Support
import TestSupport
import Worker
import XCTest

/// `test.stall`: in its first attempt, a statement that does not return (the test stops its
/// backend with SIGSTOP); later attempts write one `bench_effects` row and complete.
struct StallJob: Job {
    struct Args: Codable, Sendable {}
    static let kind = "test.stall"
    /// The watchdog's limit: long enough for the test to find and stop the backend first.
    static let timeout: TimeInterval = 4

    func run(_ args: Args, context: JobContext) async throws -> JobResult {
        if context.job.attempt == 1 {
            _ = try await context.pool.withConnection { c in try c.query("SELECT pg_sleep(120) AS stall_attempt_1") }
        }
        let job = context.job
        let worker = context.workerID
        return try await context.completeInTransaction { tx in
            try tx.query("INSERT INTO bench_effects (job_id, attempt, worker) VALUES ($1, $2, $3)", [job.id, job.attempt, worker])
            return ["attempt": .int(job.attempt)]
        }
    }
}

/// A connection that goes silent mid-job: the backend serving a worker's job is stopped
/// (SIGSTOP), so neither the statement, nor statement_timeout, nor a cancel request ever ends
/// it. The watchdog times the run out; its lease is no longer renewed and lapses, so the
/// rescuer makes the job available again; the stuck call is cut after the pool's grace, freeing
/// the queue's only slot; the second attempt completes, all while the backend is still stopped,
/// and the worker goes on working.
final class StalledConnectionTests: XCTestCase {
    func testAJobOnAStoppedBackendIsRescuedAndTheWorkerStaysUp() async throws {
        let db = try TestDatabase.create()
        var registry = try JobRegistry.standard(environment: Environment([:]))
        registry.register(StallJob())
        // One slot: the second attempt can only start once the stuck run has let go of it.
        let environment = Environment(["TALLY_LEASE": "1s", "TALLY_RESCUE_INTERVAL": "100ms", "TALLY_SCHEDULER_INTERVAL": "0.2",
                                       "TALLY_BACKOFF_SCALE": "0.001", "TALLY_POLL_INTERVAL": "0.5"])
        let config = try WorkerConfig(queues: ["default": 1], label: "stall", environment: environment)
        let pool = WorkerPool(config: config, registry: registry, databaseURL: db.url, environment: environment)
        let running = Task { try await pool.run() }
        let c = try db.connect()
        let id = try Enqueuer().enqueue(NewJob(kind: StallJob.kind, args: [:], queue: "default"), on: c).id

        var pid: Int32 = 0
        try await waitUntil("the first attempt's statement runs") {
            guard let text = try db.scalar("""
                SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tally-worker'
                AND state = 'active' AND query LIKE '%stall_attempt_1%'
                """), let n = Int32(text) else { return false }
            pid = n
            return true
        }
        XCTAssertEqual(kill(pid, SIGSTOP), 0)
        defer { kill(pid, SIGCONT) }
        let stoppedAt = Date()
        XCTAssertEqual(try db.int("SELECT attempt FROM jobs WHERE id = $1", [id]), 1, "stopped within the first attempt")

        try await waitUntil("the job completes on another attempt", timeout: 60) {
            try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [id]) == "completed"
        }
        print("completed \(String(format: "%.1f", Date().timeIntervalSince(stoppedAt))) s after the backend was stopped")
        XCTAssertEqual(try db.int("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [Int64(pid)]), 1,
                       "the backend is still there, stopped: nothing of this needed it to answer")
        XCTAssertEqual(try db.int("SELECT attempt FROM jobs WHERE id = $1", [id]), 2)
        XCTAssertEqual(try db.int("""
            SELECT count(*) FROM jobs, jsonb_array_elements(errors) e
            WHERE id = $1 AND (e->>'attempt')::int = 1 AND e->>'message' LIKE 'lease expired: worker stall/%'
            """, [id]), 1, "the first attempt's lease lapsed (the timed-out run was no longer renewed) and it was rescued")
        XCTAssertEqual(try db.int("SELECT count(*) FROM bench_effects WHERE job_id = $1", [id]), 1, "one effect, of attempt 2")
        XCTAssertEqual(try db.int("SELECT attempt FROM bench_effects WHERE job_id = $1", [id]), 2)

        // The worker is still up and working, its slot and connections in use again.
        let after = try Enqueuer().enqueue((0..<3).map { _ in NewJob(kind: "bench.effect", args: [:], queue: "default") }, on: c).map(\.id)
        try await waitUntil("later jobs complete") {
            try db.int("SELECT count(*) FROM jobs WHERE id = ANY($1) AND state = 'completed'", [after]) == 3
        }
        kill(pid, SIGCONT)
        pool.shutdown()
        try await running.value
        XCTAssertEqual(try db.int("SELECT count(*) FROM workers"), 0, "stopped cleanly, deregistered")
    }
}
