import Foundation
import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// A batch whose deferred jobs wait for a lock across several lease renewals (BatchExecutor):
/// the jobs its first transaction committed are released at once, and one job of a batch that
/// is no longer held never cancels the others. Seen before: the transfer benchmark lost ~2,600
/// "leases" every renewal (jobs already completed, still counted as held while the deferred
/// ones waited), each loss cancelled its whole batch, and 881 jobs failed an attempt.
final class BatchLeaseTests: XCTestCase {
    func testJobsABatchCommittedAreNotLostWhileItsDeferredOnesWait() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let users = (0..<10).map { "free-\($0)" } + ["busy"]
        for u in users { _ = try LedgerFixtures.account(u, on: c, grants: [(.topup, 100, nil)]) }
        // All eleven in one claim: enqueued on a paused queue, resumed once the worker runs.
        try c.query("INSERT INTO queues (name, paused) VALUES ('default', true) ON CONFLICT (name) DO UPDATE SET paused = true")
        let worker = try WorkerHarness(db, environment: ["TALLY_LEASE_RENEW": "0.2", "TALLY_LEASE": "10"], cron: false)
        defer { Task { await worker.stop() } }
        var ids: [Int64] = []
        for (i, u) in users.enumerated() {
            ids.append(try worker.enqueue(UsageRecordJob.kind, ["user_id": .string(u), "agent": "default", "units": 1,
                                                                "idempotency_key": .string("k\(i)")]))
        }
        // Another session holds the busy account: the batch defers its job and waits for it.
        let other = try db.connect()
        try other.execute("BEGIN")
        try other.execute("SELECT 1 FROM accounts WHERE user_id = 'busy' FOR UPDATE")
        try c.query("UPDATE queues SET paused = false, updated_at = now() WHERE name = 'default'")
        try JobStore.notify(channel: Channels.control, payload: "resume:default", on: c)

        try await waitUntil("the ten free jobs completed", timeout: 30) {
            try db.int("SELECT count(*) FROM jobs WHERE id = ANY($1::bigint[]) AND state = 'completed'", [Array(ids.prefix(10))]) == 10
        }
        // Renewals while the deferred job waits on the lock (the heartbeat moves with each).
        var beats: Set<String> = []
        try await waitUntil("three lease renewals while the busy job waits", timeout: 30) {
            beats.formUnion(try c.query("SELECT heartbeat_at::text AS at FROM workers").map { try $0.string("at") })
            return beats.count >= 4
        }
        XCTAssertEqual(try worker.state(ids[10]), "running", "still waiting for the busy account")
        try other.execute("ROLLBACK")

        let busy = try await worker.finished(ids[10])
        XCTAssertEqual(busy.state, "completed")
        XCTAssertEqual(busy.result?["charged"]?.int64, 1)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE id = ANY($1::bigint[]) AND attempt = 1 AND errors = '[]'", [ids]), 11,
                       "no job of the batch lost an attempt")
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'usage'"), 11)
    }
}
