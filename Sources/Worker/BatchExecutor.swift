import Dispatch
import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// Runs the jobs of a `BatchJob` kind that one claim brought in together, in ONE transaction.
///
/// Why it exists: `usage.record` on one hot account. Run one by one (each job its own Task and
/// transaction), every debit takes the account's row lock and pays a commit; with 2 worker
/// processes × 10 running jobs they queue on that lock. A batch takes the lock once for the
/// whole claim and writes every debit, entry, notification and completion in a handful of
/// statements and one commit.
/// Every balance change also sends a NOTIFY, and PostgreSQL serialises the commits of
/// notifying transactions (through their WAL flush) across all accounts: one by one,
/// usage.record managed ~360 jobs/s on one account and ~530/s over 10,000 accounts.
/// In batches: 9,000–9,700/s and 10,500–14,300/s (2 cores, PostgreSQL 15 with fsync and
/// synchronous_commit on, 2 `tally worker` processes, LedgerBench on a quiet machine; 30–40 %
/// less while other builds and benchmarks shared it).
///
/// How, in the one transaction: `runBatch` applies the effects of the jobs, then the completed
/// ones are marked completed (FinishBatch, which touches only jobs still running and held by
/// this worker) — effects and completion commit together, exactly once, as for
/// `JobContext.completeInTransaction`. A job rescued or cancelled meanwhile must not have its
/// effects applied: then the transaction rolls back and is tried again with the jobs' rows
/// locked first and that job left out (see `attempt`).
/// Failed outcomes (bad args: no effects) go to the completer like any failure. If the
/// transaction fails as a whole (a constraint a job broke, a deadlock, the database), it is
/// rolled back and every job runs alone through the ordinary executor: one job cannot sink
/// the others, and nothing is applied twice (a job already completed is no longer held).
struct BatchExecutor: Sendable {
    let executor: Executor

    /// Splits a claim into single jobs and batches of batchable kinds (two or more jobs of a
    /// kind, at most its `batchLimit` per batch).
    /// `batching: false` (`TALLY_BATCH=off`) runs every job alone (to compare, or to rule the
    /// batch path out).
    static func plan(_ jobs: [ClaimedJob], registry: JobRegistry, batching: Bool) -> (single: [ClaimedJob], batches: [[ClaimedJob]]) {
        if !batching { return (jobs, []) }
        // Kinds with two or more batchable jobs in this claim; everything else runs alone, in
        // claim order.
        var counts: [String: Int] = [:]
        for job in jobs where registry.handler(for: job.kind)?.runsInBatches == true { counts[job.kind, default: 0] += 1 }
        var single: [ClaimedJob] = []
        var byKind: [String: [ClaimedJob]] = [:]
        var kinds: [String] = []
        for job in jobs {
            guard counts[job.kind, default: 0] >= 2 else {
                single.append(job)
                continue
            }
            if byKind[job.kind] == nil { kinds.append(job.kind) }
            byKind[job.kind, default: []].append(job)
        }
        var batches: [[ClaimedJob]] = []
        for kind in kinds {
            let group = byKind[kind]!
            let limit = max(1, registry.handler(for: kind)!.batchLimit)
            for start in stride(from: 0, to: group.count, by: limit) {
                batches.append(Array(group[start..<min(start + limit, group.count)]))
            }
        }
        return (single, batches)
    }

    /// Runs `jobs`, whose claims here are `holds` (in the same order).
    func execute(_ jobs: [ClaimedJob], holds: [Hold]) async {
        guard let first = jobs.first, let handler = executor.registry.handler(for: first.kind) else { return }
        let holdOf = Dictionary(uniqueKeysWithValues: zip(jobs.map(\.id), holds))
        let start = DispatchTime.now().uptimeNanoseconds
        let workerID = executor.workerID
        let context = BatchContext(environment: executor.environment, workerID: workerID)
        var outcome: (outcomes: [Int64: BatchOutcome], lost: [Int64]) = ([:], [])
        var snoozed: [ClaimedJob] = []
        do {
            // First without waiting for rows other transactions hold (those jobs are deferred),
            // then the deferred ones, waiting.
            var pending = jobs
            let skipping = max(1, Int(executor.environment["TALLY_BATCH_SKIP_PASSES"] ?? "") ?? 1)
            let pauseMs = Int(executor.environment["TALLY_BATCH_SKIP_PAUSE_MS"] ?? "") ?? 0
            for (pass, mayDefer) in (Array(repeating: true, count: skipping) + [false]).enumerated() where !pending.isEmpty {
                if pass > 0 && mayDefer && pauseMs > 0 { try await Task.sleep(for: .milliseconds(pauseMs)) }
                let batch = pending
                let step = try await executor.pool.withConnection { connection in
                    try Self.attempt(batch, handler: handler, context: context.deferring(mayDefer), on: connection)
                }
                outcome.lost += step.lost
                pending = pending.filter { step.outcomes[$0.id] == .deferred }
                for (id, result) in step.outcomes where result != .deferred {
                    outcome.outcomes[id] = result
                    // Committed: no longer held. Released now rather than after the deferred
                    // jobs' pass, which may wait seconds for locks: a lease renewal meanwhile
                    // found these finished and took them for lost leases (the transfer bench
                    // saw ~2,600 such "lost" jobs every renewal, 10 s apart).
                    if case .completed = result, let hold = holdOf[id] {
                        executor.held.runEnded(hold)
                        executor.held.release(hold)
                    }
                }
            }
            for job in pending { outcome.outcomes[job.id] = .failed("deferred twice by \(job.kind)'s batch handler", permanent: false) }
        } catch let error as PostgresError where error.isLockTimeout {
            // A lock the batch needs is held elsewhere for longer than TALLY_DB_LOCK_TIMEOUT
            // (an account's row, or a whole table): running the jobs one by one would wait that
            // long for each in turn. They are all snoozed instead (no attempt used) and claimed
            // again shortly; the jobs are not at fault.
            executor.counters.add(WorkerCounters.transactionRetry(sqlState: error.sqlState))
            snoozed = jobs.filter { outcome.outcomes[$0.id] == nil && !outcome.lost.contains($0.id) }
            Log.warn("batch gave up waiting for a lock; its jobs are snoozed (no attempt used)",
                     ["kind": first.kind, "jobs": snoozed.count, "snooze_s": Executor.lockTimeoutSnooze,
                      "error": Executor.message(for: error)])
        } catch {
            if let error = error as? PostgresError, error.isSerializationFailure {
                executor.counters.add(WorkerCounters.transactionRetry(sqlState: error.sqlState))
            }
            // Jobs a committed first transaction completed are done; the rest run alone.
            let rest = jobs.filter { outcome.outcomes[$0.id] == nil && !outcome.lost.contains($0.id) }
            Log.warn("batch failed and was rolled back; running its jobs one by one",
                     ["kind": first.kind, "jobs": rest.count, "error": Executor.message(for: error)])
            for job in rest { await executor.execute(job, hold: holdOf[job.id]!) }
        }

        let held = executor.held
        for job in snoozed {
            let hold = holdOf[job.id]!
            held.runEnded(hold)
            let finish = Finish.decide(jobID: job.id, attempt: job.attempt, maxAttempts: job.maxAttempts,
                                       outcome: .snoozed(seconds: Executor.lockTimeoutSnooze), backoff: executor.backoff)
            executor.completer.submit(Completion(finish: finish, hold: hold))
        }
        for job in jobs where outcome.lost.contains(job.id) {
            held.runEnded(holdOf[job.id]!)
            held.release(holdOf[job.id]!)
        }
        var failed = 0
        var alone: [ClaimedJob] = []
        for job in jobs {
            guard let result = outcome.outcomes[job.id], let hold = holdOf[job.id] else { continue }
            if result == .runAlone {
                alone.append(job)
                continue
            }
            held.runEnded(hold)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            switch result {
            case .runAlone:
                break
            case .completed:
                executor.metrics.finished(kind: job.kind, outcome: "completed", seconds: seconds)
                held.release(hold)
            case .deferred:
                executor.metrics.finished(kind: job.kind, outcome: "deferred", seconds: seconds)
                held.release(hold)
            case .failed(let message, let permanent):
                failed += 1
                executor.metrics.finished(kind: job.kind, outcome: "failed", seconds: seconds)
                let finish = Finish.decide(jobID: job.id, attempt: job.attempt, maxAttempts: job.maxAttempts,
                                           outcome: .failed(message: message, permanent: permanent), backoff: executor.backoff)
                executor.completer.submit(Completion(finish: finish, hold: hold))
            }
        }
        if Log.enabled(.info) {
            let ms = String(format: "%.2f", Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            Log.info("batch finished", ["kind": first.kind, "queue": first.queue, "jobs": jobs.count,
                                        "completed": outcome.outcomes.count - failed - alone.count, "failed": failed,
                                        "run_alone": alone.count,
                                        "lease_lost": outcome.lost.count, "duration_ms": ms,
                                        "first_job_id": first.id, "last_job_id": jobs[jobs.count - 1].id])
        }
        // After the batch committed (their turn in the lock order comes after its rows).
        for job in alone { await executor.execute(job, hold: holdOf[job.id]!) }
    }

    /// Some job of the batch was no longer held when it was to be completed.
    struct LeaseShortfall: Error {}

    /// The batch's effects and completions in one transaction. Optimistic: the completion
    /// statement itself says which jobs were still ours; if one was not (rescued or cancelled
    /// meanwhile), everything rolls back and the second try locks the jobs still held first and
    /// leaves the others out. Leases are rarely lost, so the usual path saves a statement that
    /// locks every job row.
    static func attempt(_ jobs: [ClaimedJob], handler: AnyJobHandler, context: BatchContext,
                        on connection: Connection) throws -> (outcomes: [Int64: BatchOutcome], lost: [Int64]) {
        do {
            return try attempt(jobs, handler: handler, context: context, lockFirst: false, on: connection)
        } catch is LeaseShortfall {
            return try attempt(jobs, handler: handler, context: context, lockFirst: true, on: connection)
        }
    }

    private static func attempt(_ jobs: [ClaimedJob], handler: AnyJobHandler, context: BatchContext, lockFirst: Bool,
                                on connection: Connection) throws -> (outcomes: [Int64: BatchOutcome], lost: [Int64]) {
        try connection.transaction { tx in
            // Statements are planned for the arrays they are given: the worker's connections
            // run with plan_cache_mode = force_custom_plan (WorkerPool).
            var mine = jobs
            var lost: [Int64] = []
            if lockFirst {
                let held = try JobStore.lockHeld(jobs.map { JobAttempt(id: $0.id, attempt: $0.attempt) }, workerID: context.workerID, on: tx)
                mine = jobs.filter { held.contains($0.id) }
                lost = jobs.map(\.id).filter { !held.contains($0) }
                guard !mine.isEmpty else { return ([:], lost) }
            }
            let results = try handler.runBatch(mine, on: tx, context: context)
            var outcomes: [Int64: BatchOutcome] = [:]
            var finishes: [Finish] = []
            for (job, result) in zip(mine, results) {
                outcomes[job.id] = result
                if case .completed(let json) = result {
                    finishes.append(Finish(jobID: job.id, attempt: job.attempt, state: .completed, result: json))
                }
            }
            let changed = try FinishBatch(finishes).run(on: tx, workerID: context.workerID)
            if changed.count < finishes.count {
                // Locked rows cannot be lost in between, so this happens only without lockFirst.
                throw LeaseShortfall()
            }
            return (outcomes, lost)
        }
    }
}
