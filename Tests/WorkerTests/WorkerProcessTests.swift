import Foundation
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// Real `tally worker` processes against a real database: draining, crashes, signals.
final class WorkerProcessTests: XCTestCase {
    func enqueueEffects(_ db: TestDatabase, count: Int, args: JSON = [:]) throws -> [Int64] {
        let c = try db.connect()
        var ids: [Int64] = []
        var start = 0
        while start < count {
            let n = min(1000, count - start)
            let batch = (0..<n).map { _ in NewJob(kind: "bench.effect", args: args, queue: "default") }
            ids += try Enqueuer().enqueue(batch, on: c).map(\.id)
            start += n
        }
        return ids
    }

    func testTwoWorkerProcessesDrainTenThousandJobsEachExactlyOnce() async throws {
        let db = try TestDatabase.create()
        _ = try enqueueEffects(db, count: 10_000)
        let env = ["DATABASE_URL": db.url]
        let a = try TallyProcess(["worker", "--id", "a", "--queues", "default=50"], environment: env)
        let b = try TallyProcess(["worker", "--id", "b", "--queues", "default=50"], environment: env)
        try await waitUntil("10,000 jobs completed", timeout: 180) {
            try db.int("SELECT count(*) FROM jobs WHERE kind = 'bench.effect' AND state = 'completed'") == 10_000
        }
        a.signal(SIGTERM)
        b.signal(SIGTERM)
        let statusA = try await a.waitForExit(), statusB = try await b.waitForExit()
        XCTAssertEqual(statusA, 0, a.log)
        XCTAssertEqual(statusB, 0, b.log)
        XCTAssertEqual(try db.int("SELECT count(*) FROM bench_effects"), 10_000, "one effect per job")
        XCTAssertEqual(try db.int("SELECT count(DISTINCT job_id) FROM bench_effects"), 10_000)
        XCTAssertEqual(try db.int("SELECT count(DISTINCT split_part(worker, '/', 1)) FROM bench_effects"), 2, "both processes worked")
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = 'bench.effect' AND attempt <> 1"), 0, "no job ran twice")
        XCTAssertEqual(try db.int("SELECT count(*) FROM workers"), 0, "both deregistered at shutdown")
    }

    func testKilledWorkersJobsAreRescuedAndCompletedOnceByAnother() async throws {
        let db = try TestDatabase.create()
        // The first attempt sleeps long enough to be killed mid-run; the retry is quick.
        let ids = try enqueueEffects(db, count: 5, args: ["sleep_ms": 60_000, "sleep_attempts": 1])
        let env = ["DATABASE_URL": db.url, "TALLY_LEASE": "2s", "TALLY_RESCUE_INTERVAL": "250ms"]
        let doomed = try TallyProcess(["worker", "--id", "doomed", "--queues", "default=5"], environment: env)
        try await waitUntil("the first worker holds all five jobs") {
            try db.int("SELECT count(*) FROM jobs WHERE state = 'running' AND locked_by LIKE 'doomed/%'") == 5
        }
        doomed.signal(SIGKILL)
        _ = try await doomed.waitForExit()
        XCTAssertEqual(try db.int("SELECT count(*) FROM bench_effects"), 0)
        let survivor = try TallyProcess(["worker", "--id", "survivor", "--queues", "default=5"], environment: env)
        try await waitUntil("the survivor completed the rescued jobs", timeout: 60) {
            try db.int("SELECT count(*) FROM jobs WHERE state = 'completed'") == 5
        }
        survivor.signal(SIGTERM)
        let status = try await survivor.waitForExit()
        XCTAssertEqual(status, 0, survivor.log)
        XCTAssertEqual(try db.int("SELECT count(*) FROM bench_effects"), 5, "each effect applied once")
        XCTAssertEqual(try db.int("SELECT count(DISTINCT job_id) FROM bench_effects WHERE job_id = ANY($1::bigint[])", [ids]), 5)
        XCTAssertEqual(try db.int("SELECT count(*) FROM bench_effects WHERE worker LIKE 'survivor/%' AND attempt = 2"), 5)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE errors->0->>'message' LIKE 'lease expired: worker doomed/%'"), 5)
    }

    func testSIGTERMLetsShortJobsFinishAndGivesLongOnesBack() async throws {
        let db = try TestDatabase.create()
        let short = try enqueueEffects(db, count: 1, args: ["sleep_ms": 1000])[0]
        let long = try enqueueEffects(db, count: 1, args: ["sleep_ms": 120_000])[0]
        let worker = try TallyProcess(["worker", "--id", "w", "--queues", "default=4"],
                                      environment: ["DATABASE_URL": db.url, "TALLY_SHUTDOWN_GRACE": "8s", "TALLY_LOG_LEVEL": "info"])
        try await waitUntil("both jobs are running") { try db.int("SELECT count(*) FROM jobs WHERE state = 'running'") == 2 }
        worker.signal(SIGTERM)
        let status = try await worker.waitForExit(timeout: 30)
        XCTAssertEqual(status, 0, worker.log)
        XCTAssertEqual(try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [short]), "completed", "finished within the grace period: \(worker.log)")
        XCTAssertEqual(try db.int("SELECT count(*) FROM bench_effects WHERE job_id = $1", [short]), 1)
        XCTAssertEqual(try db.scalar("SELECT state::text || '/' || attempt FROM jobs WHERE id = $1", [long]), "available/0",
                       "given back without using an attempt")
        XCTAssertEqual(try db.int("SELECT count(*) FROM bench_effects WHERE job_id = $1", [long]), 0)
        XCTAssertTrue(worker.log.contains("gave back unfinished jobs"), worker.log)  // flushed at exit
    }

    func testPausedQueueIsNotClaimedAndDrainsOnResume() async throws {
        let db = try TestDatabase.create()
        let env = ["DATABASE_URL": db.url]
        XCTAssertEqual(try TallyRun.run(["queues", "pause", "default"], environment: env).status, 0)
        let paused = try enqueueEffects(db, count: 20)
        let worker = try TallyProcess(["worker", "--id", "w", "--queues", "default=5,other=5"], environment: env)
        defer { worker.signal(SIGKILL) }
        // Proof the worker is up and claiming: a job in another queue completes.
        let c = try db.connect()
        let probe = try Enqueuer().enqueue(NewJob(kind: "bench.effect", queue: "other"), on: c).id
        try await waitUntil("the other queue's job completed") {
            try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [probe]) == "completed"
        }
        // A NOTIFY for the paused queue reaches the worker; it still claims nothing.
        _ = try Enqueuer().enqueue(NewJob(kind: "bench.effect", queue: "default"), on: c)
        let probe2 = try Enqueuer().enqueue(NewJob(kind: "bench.effect", queue: "other"), on: c).id
        try await waitUntil("the second probe completed") {
            try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [probe2]) == "completed"
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE queue = 'default' AND state <> 'available'"), 0)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE id = ANY($1::bigint[]) AND attempt = 0", [paused]), 20)
        XCTAssertEqual(try TallyRun.run(["queues", "resume", "default"], environment: env).status, 0)
        try await waitUntil("the resumed queue drains") {
            try db.int("SELECT count(*) FROM jobs WHERE queue = 'default' AND state = 'completed'") == 21
        }
    }

    func testOperatorCancelStopsARunningJob() async throws {
        let db = try TestDatabase.create()
        let id = try enqueueEffects(db, count: 1, args: ["sleep_ms": 120_000])[0]
        let env = ["DATABASE_URL": db.url, "TALLY_LOG_LEVEL": "info"]
        let worker = try TallyProcess(["worker", "--id", "w", "--queues", "default=1"], environment: env)
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the job is running") { try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [id]) == "running" }
        let run = try TallyRun.run(["jobs", "cancel", String(id), "--actor", "ops@example.com"], environment: env)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [id]), "cancelled")
        // The run was cancelled: the single slot frees up for the next job.
        let next = try enqueueEffects(db, count: 1)[0]
        try await waitUntil("the next job runs in the freed slot") {
            try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [next]) == "completed"
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM bench_effects WHERE job_id = $1", [id]), 0, "the cancelled run applied nothing")
        // Logs are flushed every 50 ms: wait for the line rather than read at once.
        try await waitUntil("the worker logs the cancellation") { worker.log.contains("cancelling job at an operator's request") }
    }
}
