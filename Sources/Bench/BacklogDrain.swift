import Foundation
import Postgres
import Queue

/// Times the drain of a backlog: jobs enqueued on a paused queue, 2 `tally worker` processes
/// started, the queue resumed, and the clock (the database's) stopped at the last job's
/// `finished_at`. The ledger's and the Stripe sections both measure this way.
struct BacklogDrain {
    let databaseURL: String
    let tallyBinary: String
    /// The workers' `--queues`.
    let workerQueues: String
    /// The queue the backlog is on (paused by the caller before enqueueing).
    let queue: String
    let label: String

    /// Pauses `queue` (call before enqueueing).
    static func pause(_ queue: String, on c: Connection) throws {
        try c.query("INSERT INTO queues (name, paused) VALUES ($1, true) ON CONFLICT (name) DO UPDATE SET paused = true", [queue])
    }

    /// Starts the workers, resumes the queue, waits for every job in `first...last` to finish;
    /// returns the seconds from the resume to the last finish. Stops the workers.
    func run(first: Int64, last: Int64, jobs: Int, on c: Connection) async throws -> Double {
        var workers: [Process] = []
        defer {
            for w in workers where w.isRunning { w.terminate() }
            for w in workers { w.waitUntilExit() }
        }
        let before = try c.query("SELECT count(*) AS n FROM workers").first!.int64("n")
        for i in 1...2 { workers.append(try startWorker(label: "\(label)-w\(i)")) }
        try await until("2 workers registered", timeout: 60) {
            try c.query("SELECT count(*) AS n FROM workers").first!.int64("n") >= before + 2
        }
        // Completion is polled every 250 ms through the partial indexes of unfinished jobs, one
        // state at a time (a count over the run's id range was a parallel sequential scan of
        // the job table, 50–130 ms a poll, taking CPU from what it measured).
        let resumedAt = try c.query("UPDATE queues SET paused = false, updated_at = now() WHERE name = $1 RETURNING now() AS at", [queue])
            .first!.date("at")
        try JobStore.notify(channel: Channels.control, payload: "resume:\(queue)", on: c)
        try await until("\(jobs) jobs finished", timeout: 600) {
            try c.query("""
                SELECT (SELECT count(*) FROM jobs WHERE state = 'available' AND queue = $1)
                     + (SELECT count(*) FROM jobs WHERE state = 'running')
                     + (SELECT count(*) FROM jobs WHERE state IN ('scheduled', 'retryable')) AS n
                """, [queue]).first!.int64("n") == 0
        }
        let lastFinished = try c.query("SELECT max(finished_at) AS at FROM jobs WHERE id BETWEEN $1 AND $2", [first, last])
            .first!.date("at")
        return lastFinished.timeIntervalSince(resumedAt)
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
            guard Date() < deadline else { throw QueueError.invalid("bench (\(label)): timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}
