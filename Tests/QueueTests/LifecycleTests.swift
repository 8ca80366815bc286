import Foundation
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// Claim, finish, rescue and promotion at the SQL level, as the worker uses them.
final class LifecycleTests: XCTestCase {
    func claim(_ c: Connection, _ queue: String, _ n: Int, worker: String, leaseMs: Int64 = 30_000) throws -> [ClaimedJob] {
        try JobStore.claim(queue: queue, limit: n, workerID: worker, lease: .milliseconds(leaseMs), on: c)
    }

    func testClaimsByPriorityThenRunAtThenIdAndOnlyItsQueue() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let e = Enqueuer()
        let past = Date().addingTimeInterval(-60)
        let a = try e.enqueue(NewJob(kind: "k", args: ["n": "a"], queue: "q"), on: c).id
        let b = try e.enqueue(NewJob(kind: "k", args: ["n": "b"], queue: "q", priority: 1), on: c).id
        let d = try e.enqueue(NewJob(kind: "k", args: ["n": "d"], queue: "q", runAt: past), on: c).id
        let f = try e.enqueue(NewJob(kind: "k", args: ["n": "f"], queue: "q", priority: 1, runAt: past), on: c).id
        _ = try e.enqueue(NewJob(kind: "k", queue: "elsewhere"), on: c)
        _ = try e.enqueue(NewJob(kind: "k", queue: "q", runAt: Date().addingTimeInterval(600)), on: c)
        let first = try claim(c, "q", 3, worker: "w1")
        XCTAssertEqual(first.map(\.id), [f, b, d], "priority 1 first (older run_at first), then priority 5")
        XCTAssertEqual(first.map(\.attempt), [1, 1, 1])
        let rest = try claim(c, "q", 10, worker: "w2")
        XCTAssertEqual(rest.map(\.id), [a], "the scheduled job and the other queue's job are not claimed")
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE state = 'running' AND locked_by = 'w1'"), 3)
    }

    func testPausedQueueYieldsNothingUntilResumed() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        _ = try Enqueuer().enqueue(NewJob(kind: "k", queue: "q"), on: c)
        try JobStore.setPaused(queue: "q", paused: true, on: c)
        XCTAssertTrue(try claim(c, "q", 10, worker: "w").isEmpty)
        try JobStore.setPaused(queue: "q", paused: false, on: c)
        XCTAssertEqual(try claim(c, "q", 10, worker: "w").count, 1)
    }

    func testFinishTouchesOnlyJobsStillRunningAndHeldByThatWorker() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let id = try Enqueuer().enqueue(NewJob(kind: "k", queue: "q"), on: c).id
        _ = try claim(c, "q", 1, worker: "slow-worker")
        // Its lease lapses; another worker rescues and claims it, then the first finishes late.
        try c.query("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [id])
        XCTAssertEqual(try JobStore.rescue(limit: 100, on: c).count, 1)
        XCTAssertEqual(try JobStore.promoteDue(limit: 100, on: c).count, 1)
        XCTAssertEqual(try claim(c, "q", 1, worker: "second-worker").first?.attempt, 2)
        let late = try FinishBatch([Finish(jobID: id, attempt: 1, state: .completed, result: ["by": "slow"])]).run(on: c, workerID: "slow-worker")
        XCTAssertTrue(late.isEmpty, "the late finish changes nothing")
        XCTAssertEqual(try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [id]), "running")
        let done = try FinishBatch([Finish(jobID: id, attempt: 2, state: .completed, result: ["by": "second"])]).run(on: c, workerID: "second-worker")
        XCTAssertEqual(done, [id])
        XCTAssertEqual(try db.scalar("SELECT result->>'by' FROM jobs WHERE id = $1", [id]), "second")
        XCTAssertEqual(try db.scalar("SELECT errors->0->>'message' FROM jobs WHERE id = $1", [id])?.contains("lease expired"), true)
    }

    func testALapsedAttemptCannotFinishOrRenewTheSameWorkersLaterClaim() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let id = try Enqueuer().enqueue(NewJob(kind: "k", queue: "q"), on: c).id
        _ = try claim(c, "q", 1, worker: "w")
        try c.query("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [id])
        XCTAssertEqual(try JobStore.rescue(limit: 100, on: c).count, 1)
        XCTAssertEqual(try JobStore.promoteDue(limit: 100, on: c).count, 1)
        XCTAssertEqual(try claim(c, "q", 1, worker: "w").first?.attempt, 2, "the same process claims it again")
        XCTAssertTrue(try JobStore.renewLeases([JobAttempt(id: id, attempt: 1)], workerID: "w", lease: .milliseconds(30_000), on: c).isEmpty, "the stale attempt's lease is not renewed")
        XCTAssertEqual(try JobStore.renewLeases([JobAttempt(id: id, attempt: 2)], workerID: "w", lease: .milliseconds(30_000), on: c).count, 1)
        let stale = try FinishBatch([Finish(jobID: id, attempt: 1, state: .retryable, delayMilliseconds: 1000, errorMessage: "stale")]).run(on: c, workerID: "w")
        XCTAssertTrue(stale.isEmpty, "the stale attempt cannot overwrite the live one")
        XCTAssertEqual(try db.scalar("SELECT state::text || '/' || attempt FROM jobs WHERE id = $1", [id]), "running/2")
        XCTAssertEqual(try JobStore.lockHeld([JobAttempt(id: id, attempt: 1)], workerID: "w", on: c).count, 0)
        XCTAssertEqual(try FinishBatch([Finish(jobID: id, attempt: 2, state: .completed)]).run(on: c, workerID: "w"), [id])
    }

    func testFinishWritesRetriesSnoozesAndDiscards() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let e = Enqueuer()
        let ids = try (0..<4).map { _ in try e.enqueue(NewJob(kind: "k", queue: "q", maxAttempts: 3), on: c).id }
        _ = try claim(c, "q", 4, worker: "w")
        try FinishBatch([
            Finish(jobID: ids[0], attempt: 1, state: .retryable, delayMilliseconds: 60_000, errorMessage: "boom"),
            Finish(jobID: ids[1], attempt: 1, state: .scheduled, delayMilliseconds: 5_000),
            Finish(jobID: ids[2], attempt: 1, state: .discarded, errorMessage: "bad args"),
            Finish(jobID: ids[3], attempt: 1, state: .completed, result: ["ok": true]),
        ]).run(on: c, workerID: "w")
        let rows = try c.query("""
            SELECT id, state::text AS state, attempt, jsonb_array_length(errors) AS n_errors,
                   EXTRACT(EPOCH FROM run_at - now())::float8 AS in_s, finished_at IS NOT NULL AS finished
            FROM jobs ORDER BY id
            """)
        XCTAssertEqual(try rows.map { try $0.string("state") }, ["retryable", "scheduled", "discarded", "completed"])
        XCTAssertEqual(try rows.map { try $0.int("attempt") }, [1, 0, 1, 1], "a snooze gives its attempt back")
        XCTAssertEqual(try rows.map { try $0.int("n_errors") }, [1, 0, 1, 0])
        XCTAssertEqual(try rows.map { try $0.bool("finished") }, [false, false, true, true])
        XCTAssertEqual(Double(try rows[0].string("in_s")) ?? 0, 60, accuracy: 2)
        XCTAssertEqual(Double(try rows[1].string("in_s")) ?? 0, 5, accuracy: 2)
    }

    func testRescueDiscardsJobsOutOfAttempts() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let id = try Enqueuer().enqueue(NewJob(kind: "k", queue: "q", maxAttempts: 1), on: c).id
        _ = try claim(c, "q", 1, worker: "w", leaseMs: 1)
        try waitUntilSync { try db.int("SELECT count(*) FROM jobs WHERE lease_expires_at < now()") == 1 }
        let rescued = try JobStore.rescue(limit: 100, on: c)
        XCTAssertEqual(rescued.first?.state.rawValue, "discarded")
        XCTAssertEqual(try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [id]), "discarded")
    }

    func testPromotionMakesDueJobsAvailable() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let soon = try Enqueuer().enqueue(NewJob(kind: "k", queue: "q", runAt: Date().addingTimeInterval(0.05)), on: c).id
        _ = try Enqueuer().enqueue(NewJob(kind: "k", queue: "q", runAt: Date().addingTimeInterval(3600)), on: c)
        let next = try XCTUnwrap(JobStore.nextDue(on: c))
        XCTAssertLessThan(next.timeIntervalSinceNow, 1)
        try waitUntilSync { try JobStore.promoteDue(limit: 100, on: c).count == 1 }
        XCTAssertEqual(try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [soon]), "available")
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE state = 'scheduled'"), 1)
    }

    func testPruneDeletesOnlyOldFinishedJobsKeepingDiscardedLonger() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let e = Enqueuer()
        let ids = try (0..<4).map { _ in try e.enqueue(NewJob(kind: "k", queue: "q", uniqueKey: UUID().uuidString), on: c).id }
        try c.query("UPDATE jobs SET state = 'completed', finished_at = now() - interval '8 days' WHERE id = $1", [ids[0]])
        try c.query("UPDATE jobs SET state = 'discarded', finished_at = now() - interval '8 days' WHERE id = $1", [ids[1]])
        try c.query("UPDATE jobs SET state = 'discarded', finished_at = now() - interval '31 days' WHERE id = $1", [ids[2]])
        try c.query("UPDATE jobs SET state = 'completed', finished_at = now() - interval '1 day' WHERE id = $1", [ids[3]])
        let n = try JobStore.prune(completedOlderThan: .seconds(7 * 86400), discardedOlderThan: .seconds(30 * 86400), limit: 1000, on: c)
        XCTAssertEqual(n, 2)
        XCTAssertEqual(try c.query("SELECT id FROM jobs ORDER BY id").map { try $0.int64("id") }, [ids[1], ids[3]])
    }

    func testConcurrentMigrationsApplyEachFileOnce() async throws {
        let admin = try Connection.connect(TestDatabase.url(for: "postgres"))
        let name = "m_" + Crypto.randomHex(5)
        try admin.execute("CREATE DATABASE \(name)")
        defer { _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        let url = TestDatabase.url(for: name)
        let migrator = try Migrator(directory: TestDatabase.sqlDirectory)
        let reports = try await withThrowingTaskGroup(of: Migrator.Report.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    try await Task.detached { try migrator.migrate(try Connection.connect(url)) }.value
                }
            }
            var all: [Migrator.Report] = []
            for try await r in group { all.append(r) }
            return all
        }
        XCTAssertEqual(reports.map(\.applied.count).reduce(0, +), migrator.migrations.count, "each file applied by exactly one run")
        let again = try migrator.migrate(try Connection.connect(url))
        XCTAssertTrue(again.applied.isEmpty)
        XCTAssertEqual(again.alreadyApplied, migrator.migrations.count)
    }
}


final class ClaimPlanTests: XCTestCase {
    /// With hundreds of thousands of finished rows the claim still walks only the partial
    /// index of available jobs.
    func testClaimUsesThePartialIndexWithManyFinishedRows() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try c.execute("""
            INSERT INTO jobs (queue, kind, state, finished_at, attempt)
            SELECT 'default', 'bench.noop', 'completed', now(), 1 FROM generate_series(1, 300000);
            INSERT INTO jobs (queue, kind) SELECT 'default', 'bench.noop' FROM generate_series(1, 100);
            ANALYZE jobs;
            """)
        let plan = try c.query("""
            EXPLAIN (FORMAT JSON) SELECT id FROM jobs
            WHERE state = 'available' AND queue = 'default'
              AND NOT EXISTS (SELECT 1 FROM queues WHERE name = 'default' AND paused)
            ORDER BY priority, run_at, id LIMIT 50 FOR UPDATE SKIP LOCKED
            """).first!.raw(at: 0) ?? ""
        XCTAssertTrue(plan.contains("jobs_claim_idx"), plan)
        XCTAssertFalse(plan.contains("Seq Scan\", \"Relation Name\": \"jobs\""), plan)
        XCTAssertEqual(try JobStore.claim(queue: "default", limit: 50, workerID: "w", lease: .milliseconds(30_000), on: c).count, 50)
    }
}
