import Dispatch
import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// Runs one claimed job: finds its handler, runs it, decides the outcome, hands the row
/// change to the completer (unless the job recorded it in its own transaction) and logs one
/// line: job id, kind, queue, attempt, duration, outcome.
struct Executor: Sendable {
    let registry: JobRegistry
    let pool: ConnectionPool
    let enqueuer: Enqueuer
    let environment: Environment
    let workerID: String
    let backoff: Backoff
    let held: HeldJobs
    let completer: Completer
    let counters: WorkerCounters
    var metrics = WorkerMetrics()

    /// How many times a run that hit a deadlock or serialization failure is run again at once,
    /// within its claim, before the job is snoozed (which does not use an attempt either). Such
    /// a failure is not the job's fault: its transaction rolled back whole, and the next try
    /// usually finds the other transaction committed.
    static let transientReruns = 5

    /// How long a job whose transaction gave up waiting for a lock (TALLY_DB_LOCK_TIMEOUT) waits
    /// before it runs again. It is snoozed, using no attempt: what holds the lock (a long
    /// transaction, an operator's `LOCK TABLE`) is not the job's fault, and however long it is
    /// held the job must not run out of attempts and be discarded over it.
    static let lockTimeoutSnooze: TimeInterval = 1

    func timeout(for kind: String) -> Double { registry.handler(for: kind)?.timeout ?? 300 }

    /// Runs `job`, whose claim here is `hold`.
    func execute(_ job: ClaimedJob, hold: Hold) async {
        let start = DispatchTime.now().uptimeNanoseconds
        var outcome: JobOutcome?
        var label: String
        var errorText: String?

        if let handler = registry.handler(for: job.kind) {
            let context = JobContext(job: job, pool: pool, enqueuer: enqueuer, environment: environment, workerID: workerID)
            do {
                let result = try await runRetryingTransients(handler, job, context: context)
                switch result.kind {
                case .completed(let json):
                    outcome = .completed(result: json)
                    label = "completed"
                case .completedInTransaction:
                    label = "completed"
                case .snooze(let seconds):
                    outcome = .snoozed(seconds: seconds)
                    label = "snoozed"
                case .snoozedInTransaction:
                    label = "snoozed"
                }
            } catch let error as TransientFailure {
                // Still failing after the reruns: again soon, without using an attempt.
                outcome = .snoozed(seconds: 1)
                label = "snoozed"
                errorText = error.description
            } catch let error as LeaseLostError {
                label = "lease_lost"
                errorText = error.description
            } catch let error as PostgresError where error.isLockTimeout && held.reason(hold) == nil {
                counters.add(WorkerCounters.transactionRetry(sqlState: error.sqlState))
                outcome = .snoozed(seconds: Self.lockTimeoutSnooze)
                label = "snoozed"
                errorText = "\(error) (snoozed \(DurationText.format(Self.lockTimeoutSnooze)), no attempt used)"
            } catch {
                switch held.reason(hold) {
                case .operatorCancelled?:
                    label = "cancelled"
                case .shutdown?:
                    label = "interrupted"
                case .leaseLost?:
                    label = "lease_lost"
                case .timedOut(let seconds)?:
                    let message = "timed out after \(DurationText.format(seconds)) (the \(job.kind) timeout)"
                    outcome = .failed(message: message, permanent: false)
                    label = "timed_out"
                    errorText = message
                case nil:
                    let message = Executor.message(for: error)
                    let permanent = error is JobError
                    outcome = .failed(message: message, permanent: permanent)
                    label = permanent ? "discarded" : "failed"
                    errorText = message
                }
            }
        } else {
            // A worker of an older version may not know a kind a newer enqueuer uses: retry,
            // so a worker that knows it gets the job.
            let message = "no handler for kind \(job.kind) in worker \(workerID); known kinds: \(registry.kinds.joined(separator: ", "))"
            outcome = .failed(message: message, permanent: false)
            label = "failed"
            errorText = message
        }

        held.runEnded(hold)
        if let outcome {
            let finish = Finish.decide(jobID: job.id, attempt: job.attempt, maxAttempts: job.maxAttempts, outcome: outcome, backoff: backoff)
            if finish.state == .discarded && label == "failed" { label = "discarded" }
            if finish.state == .retryable { label = "retry" }
            completer.submit(Completion(finish: finish, hold: hold))
        } else {
            held.release(hold)
        }

        metrics.finished(kind: job.kind, outcome: label, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        if Log.enabled(.info) {
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            let duration = String(format: "%.2f", ms)
            if let errorText {
                Log.info("job finished", ["job_id": job.id, "kind": job.kind, "queue": job.queue, "attempt": job.attempt,
                                          "duration_ms": duration, "outcome": label, "error": errorText])
            } else {
                Log.info("job finished", ["job_id": job.id, "kind": job.kind, "queue": job.queue, "attempt": job.attempt,
                                          "duration_ms": duration, "outcome": label])
            }
        }
    }

    /// A deadlock or serialization failure that outlived the reruns.
    struct TransientFailure: Error, CustomStringConvertible {
        let underlying: PostgresError
        var description: String { "\(underlying) (still failing after \(Executor.transientReruns) immediate reruns; snoozed)" }
    }

    /// Runs the handler; on a deadlock or serialization failure (its transaction rolled back,
    /// nothing applied) runs it again at once, counting each rerun in `/metrics`.
    func runRetryingTransients(_ handler: AnyJobHandler, _ job: ClaimedJob, context: JobContext) async throws -> JobResult {
        var reruns = 0
        while true {
            do {
                return try await handler.run(job, context: context)
            } catch let error as PostgresError where error.isSerializationFailure {
                counters.add(WorkerCounters.transactionRetry(sqlState: error.sqlState))
                guard reruns < Self.transientReruns, !Task.isCancelled else { throw TransientFailure(underlying: error) }
                reruns += 1
                Log.warn("job transaction hit a transient failure; running it again at once (no attempt used)",
                         ["job_id": job.id, "kind": job.kind, "attempt": job.attempt, "rerun": reruns, "error": error])
            }
        }
    }

    /// The error text recorded on the job: at most 2,000 characters.
    static func message(for error: any Error) -> String {
        let text = String(describing: error)
        return text.count > 2000 ? String(text.prefix(2000)) + "…" : text
    }
}
