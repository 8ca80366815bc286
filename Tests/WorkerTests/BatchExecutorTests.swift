import BenchJobs
import Foundation
import JobRuntime
import Jobs
import Postgres
import Queue
import Support
import TestSupport
@testable import Worker
import XCTest

/// A BatchJob kind for these tests: every job writes one bench_effects row; the batch path
/// labels its rows with the batch size, the single path with "single". A job with
/// `"explode": true` makes the batch path throw (the single path does not).
struct EffectBatchJob: BatchJob {
    struct Args: Codable, Sendable {
        var n: Int
        var explode: Bool?
    }
    static let kind = "test.effect_batch"

    func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let job = context.job
        return try await context.completeInTransaction { tx in
            try tx.query("INSERT INTO bench_effects (job_id, attempt, worker) VALUES ($1, $2, 'single')", [job.id, job.attempt])
            return ["n": .int(args.n)]
        }
    }

    func runBatch(_ jobs: [BatchItem<Args>], on tx: Connection, context: BatchContext) throws -> [BatchOutcome] {
        if jobs.contains(where: { $0.args.explode == true }) {
            throw JobError.permanent("this batch explodes")
        }
        let valid = jobs.filter { $0.args.n >= 0 }
        try tx.query("INSERT INTO bench_effects (job_id, attempt, worker) SELECT unnest($1::bigint[]), unnest($2::int[]), $3",
                     [valid.map(\.job.id), valid.map(\.job.attempt), "batch:\(jobs.count)"])
        return jobs.map { $0.args.n < 0 ? .failed("n must not be negative", permanent: true) : .completed(["n": .int($0.args.n)]) }
    }
}

final class BatchExecutorTests: XCTestCase {
    func registry() -> JobRegistry {
        var r = JobRegistry()
        r.register(EffectBatchJob())
        r.register(NoopJob())
        return r
    }

    func testPlanGroupsBatchableKindsAndLeavesTheRest() throws {
        func job(_ id: Int64, _ kind: String) -> ClaimedJob {
            ClaimedJob(id: id, queue: "default", kind: kind, argsJSON: "{}", attempt: 1, maxAttempts: 20, priority: 5, createdAt: Date())
        }
        let jobs = [job(1, EffectBatchJob.kind), job(2, "bench.noop"), job(3, EffectBatchJob.kind), job(4, EffectBatchJob.kind)]
        let plan = BatchExecutor.plan(jobs, registry: registry(), batching: true)
        XCTAssertEqual(plan.single.map(\.id), [2])
        XCTAssertEqual(plan.batches.map { $0.map(\.id) }, [[1, 3, 4]])
        let alone = BatchExecutor.plan([job(5, EffectBatchJob.kind), job(6, "bench.noop")], registry: registry(), batching: true)
        XCTAssertEqual(alone.single.map(\.id), [5, 6], "one job of a kind runs alone")
        let off = BatchExecutor.plan(jobs, registry: registry(),
                                     batching: try WorkerConfig(environment: Environment(["TALLY_BATCH": "off"])).batching)
        XCTAssertEqual(off.single.count, 4)
    }

    func testJobsClaimedTogetherCompleteInOneTransactionAndABadOneFailsAlone() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try c.query("INSERT INTO queues (name, paused) VALUES ('default', true)")
        var jobs = (0..<50).map { NewJob(kind: EffectBatchJob.kind, args: ["n": .int($0)], queue: "default") }
        jobs.append(NewJob(kind: EffectBatchJob.kind, args: ["n": -1], queue: "default"))
        jobs.append(NewJob(kind: EffectBatchJob.kind, args: ["n": "not a number"], queue: "default"))
        _ = try Enqueuer().enqueue(jobs, on: c)
        let worker = try startWorker(db)
        defer { worker.pool.shutdown() }
        try c.query("UPDATE queues SET paused = false")
        try JobStore.notify(channel: Channels.control, payload: "resume:default", on: c)
        try await waitUntil("every job finished") {
            try db.int("SELECT count(*) FROM jobs WHERE state IN ('completed', 'discarded')") == 52
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE state = 'completed'"), 50)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE state = 'discarded' AND errors::text LIKE '%negative%'"), 1)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE state = 'discarded' AND errors::text LIKE '%args do not fit%'"), 1)
        XCTAssertEqual(try db.int("SELECT count(*) FROM bench_effects WHERE worker = 'batch:51'"), 50,
                       "one batch of the 51 jobs whose args decode; the failing one changed nothing")
        XCTAssertEqual(try db.int("SELECT count(DISTINCT job_id) FROM bench_effects"), try db.int("SELECT count(*) FROM bench_effects"),
                       "each effect once")
        XCTAssertEqual(try db.scalar("SELECT result->>'n' FROM jobs WHERE args->>'n' = '7'"), "7")
    }

    func testABatchThatThrowsIsRolledBackAndEveryJobRunsAlone() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try c.query("INSERT INTO queues (name, paused) VALUES ('default', true)")
        var jobs = (0..<10).map { NewJob(kind: EffectBatchJob.kind, args: ["n": .int($0)], queue: "default") }
        jobs.append(NewJob(kind: EffectBatchJob.kind, args: ["n": 99, "explode": true], queue: "default"))
        _ = try Enqueuer().enqueue(jobs, on: c)
        let worker = try startWorker(db)
        defer { worker.pool.shutdown() }
        try c.query("UPDATE queues SET paused = false")
        try JobStore.notify(channel: Channels.control, payload: "resume:default", on: c)
        try await waitUntil("every job completed") { try db.int("SELECT count(*) FROM jobs WHERE state = 'completed'") == 11 }
        XCTAssertEqual(try db.int("SELECT count(*) FROM bench_effects WHERE worker LIKE 'batch:%'"), 0, "the batch rolled back")
        XCTAssertEqual(try db.int("SELECT count(*) FROM bench_effects WHERE worker = 'single'"), 11, "each job ran alone, once")
    }

    func testAJobNoLongerHeldIsLeftOutOfTheBatch() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let ids = try Enqueuer().enqueue((0..<5).map { NewJob(kind: EffectBatchJob.kind, args: ["n": .int($0)], queue: "default") }, on: c).map(\.id)
        // Claimed by this worker, then one is rescued by another before the batch runs.
        let claimed = try JobStore.claim(queue: "default", limit: 5, workerID: "me/1", lease: .milliseconds(30_000), on: c)
        try c.query("UPDATE jobs SET locked_by = 'someone-else/2' WHERE id = $1", [ids[0]])
        let pool = db.pool(2)
        let held = HeldJobs()
        let completer = Completer(pool: pool, workerID: "me/1", held: held, maxBatch: 100, dueSoon: { _ in })
        let executor = Executor(registry: registry(), pool: pool, enqueuer: Enqueuer(pool: pool), environment: Environment([:]),
                                workerID: "me/1", backoff: Backoff(scale: 0.001), held: held, completer: completer,
                                counters: WorkerCounters())
        let holds = claimed.map { held.hold($0.id, attempt: $0.attempt, timeout: 30, now: 0) }
        await BatchExecutor(executor: executor).execute(claimed, holds: holds)
        XCTAssertEqual(try db.int("SELECT count(*) FROM bench_effects"), 4)
        XCTAssertEqual(try db.int("SELECT count(*) FROM bench_effects WHERE job_id = $1", [ids[0]]), 0, "its effects did not apply")
        XCTAssertEqual(try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [ids[0]]), "running", "left to its holder")
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE state = 'completed'"), 4)
        XCTAssertTrue(held.isEmpty)
    }

    func testJobsOfAnAccountAnotherTransactionHoldsWaitWithoutHoldingUpTheOthers() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try c.transaction { tx in
            for u in ["free", "held"] { try Ledger.openAccount(u, openedBy: .operator, on: tx) }
            let book = LedgerBook(tx)
            try book.load(["free", "held"])
            for u in ["free", "held"] { try book.grant(NewGrant(userID: u, source: .adjustment, amount: 10, reference: "setup:\(u)")) }
            try book.commit()
        }
        let ids = try Enqueuer().enqueue((0..<6).map { i in
            NewJob(kind: UsageRecordJob.kind, args: ["user_id": .string(i % 2 == 0 ? "free" : "held"), "agent": "default", "units": 1,
                                                    "idempotency_key": .string("k\(i)")], queue: "default")
        }, on: c).map(\.id)
        let claimed = try JobStore.claim(queue: "default", limit: 6, workerID: "me/1", lease: .milliseconds(30_000), on: c)
        // Another transaction holds the account "held".
        let other = try db.connect()
        try other.execute("BEGIN")
        try other.query("SELECT 1 FROM accounts WHERE user_id = 'held' FOR UPDATE")

        let pool = db.pool(2)
        let held = HeldJobs()
        let completer = Completer(pool: pool, workerID: "me/1", held: held, maxBatch: 100, dueSoon: { _ in })
        let executor = Executor(registry: try JobRegistry.standard(), pool: pool, enqueuer: Enqueuer(pool: pool), environment: Environment([:]),
                                workerID: "me/1", backoff: Backoff(scale: 0.001), held: held, completer: completer,
                                counters: WorkerCounters())
        let holds = claimed.map { held.hold($0.id, attempt: $0.attempt, timeout: 30, now: 0) }
        let run = Task { await BatchExecutor(executor: executor).execute(claimed, holds: holds) }
        try await waitUntil("the free account's jobs completed while the other is held") {
            try db.int("SELECT count(*) FROM jobs WHERE state = 'completed'") == 3
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE state = 'completed' AND args->>'user_id' = 'free'"), 3)
        try other.execute("COMMIT")
        await run.value
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE id = ANY($1) AND state = 'completed'", [ids]), 6)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'usage'"), 6)
        XCTAssertTrue(held.isEmpty)
    }

    struct Running {
        let pool: WorkerPool
        let task: Task<Void, Never>
    }

    func startWorker(_ db: TestDatabase) throws -> Running {
        let env = Environment(["TALLY_BACKOFF_SCALE": "0.001", "TALLY_POLL_INTERVAL": "0.2"])
        let pool = WorkerPool(config: try WorkerConfig(queues: ["default": 100], label: "t", environment: env), registry: registry(),
                              databaseURL: db.url, environment: env)
        let task = Task { _ = try? await pool.run() }
        return Running(pool: pool, task: task)
    }
}
