import Dispatch
import Foundation
import Jobs
import Postgres
import Queue
import Support

/// The ledger's measurements for `ops/bench` (docs/ledger.md, "Benchmark"):
/// - `debit_hot_per_s`: `usage.record` jobs on ONE account, worked by 2 `tally worker`
///   processes (the row-lock fight the batch path exists for);
/// - `debit_spread_per_s`: the same over 10,000 accounts.
///
/// Each run enqueues its jobs while the `default` queue is paused, starts the worker
/// processes, resumes the queue and times from the resume until the last job is completed,
/// then checks every job completed with a charge and stops the workers (SIGTERM). Run it
/// against a migrated database on a cluster with fsync and synchronous_commit on (ops/bench's).
/// It leaves its accounts and jobs behind (users named `bench-ledger-<run>-…`).
///
/// - Parameters:
///   - databaseURL: the database (migrated).
///   - tallyBinary: the `tally` executable the workers run.
///   - hotJobs / spreadJobs / spreadAccounts: sizes (defaults: 30,000 / 60,000 / 10,000; long
///     enough that the workers' start-up, connections and first plans, is a small part).
///   - workerQueues: the workers' `--queues` (default `default=2000`: with the claim batch of
///     500, two claims in flight per worker keep one batch committing while the next is built).
public func runLedgerBench(databaseURL: String, tallyBinary: String, hotJobs: Int = 30_000, spreadJobs: Int = 60_000,
                           spreadAccounts: Int = 10_000, workerQueues: String = "default=2000",
                           log: @Sendable (String) -> Void = { print($0) }) async throws -> [String: Double] {
    let run = Crypto.randomHex(3)
    func drain(_ label: String) -> BacklogDrain {
        BacklogDrain(databaseURL: databaseURL, tallyBinary: tallyBinary, workerQueues: workerQueues, queue: UsageRecordJob.queue,
                     label: "bench-ledger-\(run)-\(label)")
    }
    let hot = try await LedgerBenchRun(drain: drain("hot"), accounts: 1, jobs: hotJobs).measure()
    log(String(format: "ledger: debit_hot_per_s %.0f (%d usage jobs on 1 account, 2 worker processes, %.2f s)", hot.rate, hotJobs, hot.seconds))
    let spread = try await LedgerBenchRun(drain: drain("spread"), accounts: spreadAccounts, jobs: spreadJobs).measure()
    log(String(format: "ledger: debit_spread_per_s %.0f (%d usage jobs over %d accounts, 2 worker processes, %.2f s)",
               spread.rate, spreadJobs, spreadAccounts, spread.seconds))
    return ["debit_hot_per_s": hot.rate.rounded(), "debit_spread_per_s": spread.rate.rounded()]
}

/// One measured run.
struct LedgerBenchRun {
    /// The workers and the queue; its label prefixes the run's users.
    let drain: BacklogDrain
    let accounts: Int
    let jobs: Int

    func measure() async throws -> (rate: Double, seconds: Double) {
        let c = try Connection.connect(drain.databaseURL, applicationName: "tally-bench")
        let users = (0..<accounts).map { "\(drain.label)-\($0)" }
        try BenchAccounts.open(users, credits: Int64(jobs) + 1_000, on: c)
        try BacklogDrain.pause(drain.queue, on: c)
        let (first, last) = try enqueue(users, on: c)
        // Statistics, as a database in service has them (autovacuum would take a minute).
        try c.execute("ANALYZE jobs, accounts, grants, ledger_entries, ledger_allocations, notifications")
        let seconds = try await drain.run(first: first, last: last, jobs: jobs, on: c)
        let charged = try c.query("""
            SELECT count(*) AS n FROM jobs
            WHERE id BETWEEN $1 AND $2 AND state = 'completed' AND (result->>'charged')::bigint = 1
            """, [first, last]).first!.int64("n")
        guard charged == Int64(jobs) else {
            throw QueueError.invalid("ledger bench: \(charged) of \(jobs) usage jobs charged 1 credit; see `tally jobs list --kind usage.record`")
        }
        return (Double(jobs) / seconds, seconds)
    }

    /// `jobs` usage jobs round-robin over the users, in batches of 5,000; returns the id range.
    private func enqueue(_ users: [String], on c: Connection) throws -> (Int64, Int64) {
        let enqueuer = Enqueuer()
        var ids: [Int64] = []
        for start in stride(from: 0, to: jobs, by: 5_000) {
            let batch = (start..<min(start + 5_000, jobs)).map { i -> NewJob in
                let user = users[i % users.count]
                let args: JSON = ["user_id": .string(user), "agent": "default", "units": 1, "idempotency_key": .string("k\(i)")]
                return NewJob(kind: UsageRecordJob.kind, args: args, queue: UsageRecordJob.queue, uniqueKey: "usage:\(user):k\(i)")
            }
            ids += try c.transaction { tx in try enqueuer.enqueue(batch, on: tx).map(\.id) }
        }
        return (ids.min()!, ids.max()!)
    }
}
