import Foundation
import JobRuntime
import Jobs
import Postgres
import Queue
import Support

/// Holds and transfers for `ops/bench --only ledger` (docs/ledger.md, "Benchmark"), drained the
/// way the debits are (`BacklogDrain`: a paused queue, 2 `tally worker` processes, the clock from
/// the resume to the last job's finish):
/// - `hold_capture_per_s`: hold/capture pairs over 10,000 accounts. The holds are one backlog
///   and their captures a second (a capture needs its hold); the figure is pairs over the sum of
///   both drains. Each hold reserves 5 credits and its capture charges 3, so every pair writes
///   the reservation, the release and the charge (the whole of a partial capture).
/// - `hold_hot_per_s`: the same on ONE account.
/// - `transfer_per_s`: immediate transfers of 1 credit between random pairs of 10,000 accounts.
///
/// Each run checks afterwards that every job completed with the answer it should have (a
/// refusal is a failed run, not a fast one).
struct WalletBench {
    let databaseURL: String
    let tallyBinary: String
    let workerQueues: String

    func run(holdPairs: Int = 20_000, hotPairs: Int = 10_000, transfers: Int = 40_000, accounts: Int = 10_000,
             log: (String) -> Void) async throws -> [String: Double] {
        let run = Crypto.randomHex(3)
        let spread = try await holds(label: "bench-hold-\(run)-spread", accounts: accounts, pairs: holdPairs)
        log(String(format: "ledger: hold_capture_per_s %.0f (%d holds then their captures over %d accounts, 2 worker processes, %.2f s)",
                   spread.rate, holdPairs, accounts, spread.seconds))
        let hot = try await holds(label: "bench-hold-\(run)-hot", accounts: 1, pairs: hotPairs)
        log(String(format: "ledger: hold_hot_per_s %.0f (%d holds then their captures on 1 account, 2 worker processes, %.2f s)",
                   hot.rate, hotPairs, hot.seconds))
        let moved = try await transfer(label: "bench-transfer-\(run)", accounts: accounts, count: transfers)
        log(String(format: "ledger: transfer_per_s %.0f (%d transfers between %d accounts, 2 worker processes, %.2f s)",
                   moved.rate, transfers, accounts, moved.seconds))
        return ["hold_capture_per_s": spread.rate.rounded(), "hold_hot_per_s": hot.rate.rounded(), "transfer_per_s": moved.rate.rounded()]
    }

    private func drain(_ label: String) -> BacklogDrain {
        BacklogDrain(databaseURL: databaseURL, tallyBinary: tallyBinary, workerQueues: workerQueues, queue: "default", label: label)
    }

    private func holds(label: String, accounts: Int, pairs: Int) async throws -> (rate: Double, seconds: Double) {
        let c = try Connection.connect(databaseURL, applicationName: "tally-bench")
        let users = (0..<accounts).map { "\(label)-\($0)" }
        try BenchAccounts.open(users, credits: Int64(pairs) * 5 + 1_000, on: c)
        let holdIDs = (0..<pairs).map { Hold.id(userID: users[$0 % users.count], idempotencyKey: "h\($0)") }
        let creates = try (0..<pairs).map { i -> NewJob in
            let args = HoldCreateJob.Args(hold_id: holdIDs[i], user_id: users[i % users.count], credits: 5, expires_in: 3_600)
            return try HoldCreateJob.newJob(args, uniqueKey: "hold:\(holdIDs[i])")
        }
        let held = try await backlog(creates, label: label + "-create", on: c)
        let captures = try (0..<pairs).map { i -> NewJob in
            let args = HoldCaptureJob.Args(hold_id: holdIDs[i], credits: 3, idempotency_key: "c\(i)")
            return try HoldCaptureJob.newJob(args, uniqueKey: "capture:\(holdIDs[i])")
        }
        let captured = try await backlog(captures, label: label + "-capture", on: c)
        let bad = try c.query("""
            SELECT count(*) AS n FROM holds WHERE user_id = ANY($1::text[]) AND NOT (status = 'captured' AND captured = 3)
            """, [users]).first!.int64("n")
        let ended = try c.query("SELECT count(*) AS n FROM holds WHERE user_id = ANY($1::text[])", [users]).first!.int64("n")
        guard bad == 0, ended == Int64(pairs) else {
            throw QueueError.invalid("hold bench: \(ended) holds, \(bad) of them not captured for 3; see `tally jobs list --kind hold.capture`")
        }
        let seconds = held + captured
        return (Double(pairs) / seconds, seconds)
    }

    private func transfer(label: String, accounts: Int, count: Int) async throws -> (rate: Double, seconds: Double) {
        let c = try Connection.connect(databaseURL, applicationName: "tally-bench")
        let users = (0..<accounts).map { "\(label)-\($0)" }
        try BenchAccounts.open(users, credits: Int64(count) + 1_000, on: c)
        // Seeded pairs: the same run every time, each pair two different accounts.
        var rng = SplitMix64(seed: 7)
        let jobs = try (0..<count).map { i -> NewJob in
            let from = Int(rng.next() % UInt64(accounts))
            let to = (from + 1 + Int(rng.next() % UInt64(accounts - 1))) % accounts
            let id = Transfers.id(fromUserID: users[from], idempotencyKey: "t\(i)")
            let args = TransferCreateJob.Args(transfer_id: id, from_user_id: users[from], to_user_id: users[to], credits: 1)
            return try TransferCreateJob.newJob(args, uniqueKey: "transfer:\(id)")
        }
        let seconds = try await backlog(jobs, label: label, on: c)
        let done = try c.query("""
            SELECT count(*) AS n FROM transfers WHERE from_user_id = ANY($1::text[]) AND status = 'completed'
            """, [users]).first!.int64("n")
        guard done == Int64(count) else {
            throw QueueError.invalid("transfer bench: \(done) of \(count) transfers completed; see `tally jobs list --kind transfer.create`")
        }
        return (Double(count) / seconds, seconds)
    }

    /// Enqueues `jobs` on the paused queue and times their drain.
    private func backlog(_ jobs: [NewJob], label: String, on c: Connection) async throws -> Double {
        let d = drain(label)
        try BacklogDrain.pause(d.queue, on: c)
        let enqueuer = Enqueuer()
        var ids: [Int64] = []
        for start in stride(from: 0, to: jobs.count, by: 5_000) {
            let batch = Array(jobs[start..<min(start + 5_000, jobs.count)])
            ids += try c.transaction { tx in try enqueuer.enqueue(batch, on: tx).map(\.id) }
        }
        try c.execute("ANALYZE jobs, accounts, grants, holds, transfers, ledger_entries, ledger_allocations, notifications")
        let seconds = try await d.run(first: ids.min()!, last: ids.max()!, jobs: jobs.count, on: c)
        let completed = try c.query("SELECT count(*) AS n FROM jobs WHERE id BETWEEN $1 AND $2 AND state = 'completed' AND NOT result ? 'error'",
                                    [ids.min()!, ids.max()!]).first!.int64("n")
        guard completed == Int64(jobs.count) else {
            throw QueueError.invalid("bench (\(label)): \(completed) of \(jobs.count) jobs completed without a refusal")
        }
        return seconds
    }
}

/// Accounts for a benchmark, each with one grant of `credits`, in one transaction.
enum BenchAccounts {
    static func open(_ users: [String], credits: Int64, on c: Connection) throws {
        try c.transaction { tx in
            for u in users { try Ledger.openAccount(u, openedBy: .operator, on: tx) }
            let book = LedgerBook(tx)
            try book.load(users)
            try book.reserveGrantIDs(users.count)
            for u in users {
                try book.grant(NewGrant(userID: u, source: .adjustment, amount: credits, reference: "bench:\(u)"))
            }
            try book.commit()
        }
    }
}
