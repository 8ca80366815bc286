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
///   - hotJobs / spreadJobs / spreadAccounts: sizes (defaults: 20,000 / 40,000 / 10,000).
///   - workerQueues: the workers' `--queues` (default `default=2000`: with the claim batch of
///     500, two claims in flight per worker keep one batch committing while the next is built).
public func runLedgerBench(databaseURL: String, tallyBinary: String, hotJobs: Int = 20_000, spreadJobs: Int = 40_000,
                           spreadAccounts: Int = 10_000, workerQueues: String = "default=2000",
                           log: @Sendable (String) -> Void = { print($0) }) async throws -> [String: Double] {
    let run = Crypto.randomHex(3)
    let hot = try await LedgerBenchRun(databaseURL: databaseURL, tallyBinary: tallyBinary, workerQueues: workerQueues,
                                       prefix: "bench-ledger-\(run)-hot", accounts: 1, jobs: hotJobs).measure()
    log(String(format: "ledger: debit_hot_per_s %.0f (%d usage jobs on 1 account, 2 worker processes, %.2f s)", hot.rate, hotJobs, hot.seconds))
    let spread = try await LedgerBenchRun(databaseURL: databaseURL, tallyBinary: tallyBinary, workerQueues: workerQueues,
                                          prefix: "bench-ledger-\(run)-spread", accounts: spreadAccounts, jobs: spreadJobs).measure()
    log(String(format: "ledger: debit_spread_per_s %.0f (%d usage jobs over %d accounts, 2 worker processes, %.2f s)",
               spread.rate, spreadJobs, spreadAccounts, spread.seconds))
    return ["debit_hot_per_s": hot.rate.rounded(), "debit_spread_per_s": spread.rate.rounded()]
}

/// One measured run.
struct LedgerBenchRun {
    let databaseURL: String
    let tallyBinary: String
    let workerQueues: String
    let prefix: String
    let accounts: Int
    let jobs: Int

    func measure() async throws -> (rate: Double, seconds: Double) {
        let c = try Connection.connect(databaseURL, applicationName: "tally-bench")
        let users = (0..<accounts).map { "\(prefix)-\($0)" }
        try setUpAccounts(users, on: c)
        try c.query("INSERT INTO queues (name, paused) VALUES ('default', true) ON CONFLICT (name) DO UPDATE SET paused = true")
        let (first, last) = try enqueue(users, on: c)

        var workers: [Process] = []
        defer {
            for w in workers where w.isRunning { w.terminate() }
            for w in workers { w.waitUntilExit() }
        }
        let before = try c.query("SELECT count(*) AS n FROM workers").first!.int64("n")
        for i in 1...2 { workers.append(try startWorker(label: "\(prefix)-w\(i)")) }
        try await until("2 workers registered", timeout: 60) {
            try c.query("SELECT count(*) AS n FROM workers").first!.int64("n") >= before + 2
        }

        // Timed by the database: from the resume to the last job's finished_at. Completion is
        // polled every 250 ms through the partial indexes of unfinished jobs, one state at a
        // time (a count over the run's id range was a parallel sequential scan of the job
        // table, 50–130 ms a poll, taking CPU from what it measured).
        let resumedAt = try c.query("UPDATE queues SET paused = false, updated_at = now() WHERE name = 'default' RETURNING now() AS at")
            .first!.date("at")
        try c.query(JobQueries.notify, [Channels.control, "resume:default"])
        try await until("\(jobs) usage jobs finished", timeout: 600) {
            try c.query("""
                SELECT (SELECT count(*) FROM jobs WHERE state = 'available' AND queue = 'default')
                     + (SELECT count(*) FROM jobs WHERE state = 'running')
                     + (SELECT count(*) FROM jobs WHERE state IN ('scheduled', 'retryable')) AS n
                """).first!.int64("n") == 0
        }
        let lastFinished = try c.query("SELECT max(finished_at) AS at FROM jobs WHERE id BETWEEN $1 AND $2", [first, last])
            .first!.date("at")
        let seconds = lastFinished.timeIntervalSince(resumedAt)
        let charged = try c.query("""
            SELECT count(*) AS n FROM jobs
            WHERE id BETWEEN $1 AND $2 AND state = 'completed' AND (result->>'charged')::bigint = 1
            """, [first, last]).first!.int64("n")
        guard charged == Int64(jobs) else {
            throw QueueError.invalid("ledger bench: \(charged) of \(jobs) usage jobs charged 1 credit; see `tally jobs list --kind usage.record`")
        }
        return (Double(jobs) / seconds, seconds)
    }

    /// Accounts with credits enough for every job, in one transaction.
    private func setUpAccounts(_ users: [String], on c: Connection) throws {
        try c.transaction { tx in
            for u in users { try Ledger.openAccount(u, openedBy: .operator, on: tx) }
            let book = LedgerBook(tx)
            try book.load(users)
            try book.reserveGrantIDs(users.count)
            for u in users {
                try book.grant(NewGrant(userID: u, source: .adjustment, amount: Int64(jobs) + 1_000, reference: "bench:\(u)"))
            }
            try book.commit()
        }
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

    private func startWorker(label: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tallyBinary)
        p.arguments = ["worker", "--queues", workerQueues, "--id", label]
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = databaseURL
        env["TALLY_LOG_LEVEL"] = env["TALLY_LOG_LEVEL"] ?? "warn"
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    private func until(_ what: String, timeout: Double, _ condition: () throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while try !condition() {
            guard Date() < deadline else { throw QueueError.invalid("ledger bench: timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}
