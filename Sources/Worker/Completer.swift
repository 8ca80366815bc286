import Dispatch
import Foundation
import Postgres
import Queue
import Support
import Synchronization

/// Writes finished jobs back in batches (`JobStore.finish`): completions of jobs without
/// database effects, failures, snoozes. Jobs with database effects complete in their own
/// transaction and never come here.
final class Completer: Sendable {
    private let batcher: Mutex<CompletionBatcher<Completion>>
    private let wake = WakeSignal()
    private let stopped = Atomic<Bool>(false)
    private let pool: ConnectionPool
    private let workerID: String
    private let held: HeldJobs
    /// Told when jobs become due again soon (retries, snoozes), so they are not left waiting
    /// for the scheduler's next regular pass.
    private let dueSoon: @Sendable (Double) -> Void
    private let metrics: WorkerMetrics

    init(pool: ConnectionPool, workerID: String, held: HeldJobs, maxBatch: Int, metrics: WorkerMetrics = WorkerMetrics(),
         dueSoon: @escaping @Sendable (Double) -> Void) {
        self.metrics = metrics
        self.pool = pool
        self.workerID = workerID
        self.held = held
        self.batcher = Mutex(CompletionBatcher(maxBatch: maxBatch))
        self.dueSoon = dueSoon
    }

    func submit(_ completion: Completion) {
        if batcher.withLock({ $0.add(completion) }) { wake.signal() }
    }

    /// Finished jobs not yet written.
    var backlog: Int { batcher.withLock { $0.pending.count } }

    private let finished = WakeSignal()
    private let giveUpAt = Atomic<UInt64>(UInt64.max)

    func run() async {
        while true {
            if let batch = batcher.withLock({ $0.takeBatch() }) {
                await flush(batch)
                if DispatchTime.now().uptimeNanoseconds > giveUpAt.load(ordering: .acquiring) { break }
                continue
            }
            if stopped.load(ordering: .acquiring) { break }
            await wake.wait(seconds: nil)
        }
        finished.signal()
    }

    /// Writes everything pending, then stops; gives up at `deadline`, also when a write is
    /// stuck (a database that does not answer). Returns how many outcomes were not written:
    /// those jobs are still `running` here in the database.
    func finish(by deadline: Deadline) async -> Int {
        giveUpAt.store(deadline.uptimeNanoseconds, ordering: .releasing)
        stopped.store(true, ordering: .releasing)
        wake.signal()
        await finished.wait(seconds: deadline.remaining)
        return batcher.withLock { $0.pending.count + $0.inFlight }
    }

    /// The server refused this job's outcome on its own: write it without its result and
    /// message, so the job still ends as decided rather than running again.
    private func writeWithoutPayload(_ completion: Completion, refusedBecause error: any Error) async {
        let workerID = self.workerID
        let finish = completion.finish
        let fallback = finish.withoutRefusedPayload(String(describing: error))
        do {
            _ = try await pool.withConnection { try FinishBatch([fallback]).run(on: $0, workerID: workerID) }
            Log.warn("the database refused a finished job's result or message; recorded the outcome without them",
                     ["job_id": finish.jobID, "outcome": finish.state.rawValue, "error": error])
        } catch {
            // Still `running` in the database: its lease lapses and the rescuer retries it.
            Log.error("could not record a finished job; its lease will lapse and it will run again",
                      ["job_id": finish.jobID, "outcome": finish.state.rawValue, "error": error])
        }
        held.release(completion.hold)
    }

    private func flush(_ batch: [Completion]) async {
        let workerID = self.workerID
        let finishes = batch.map(\.finish)
        do {
            let changed = try await pool.withConnection { try FinishBatch(finishes).run(on: $0, workerID: workerID) }
            batcher.withLock { $0.flushSucceeded() }
            metrics.completionBatch(batch.count)
            held.release(batch.map(\.hold))
            if changed.count < batch.count {
                Log.debug("finished jobs no longer held here were left as they are", ["count": batch.count - changed.count])
            }
            var soonest = Double.infinity
            for f in finishes where f.state == .retryable || f.state == .scheduled {
                soonest = min(soonest, Double(f.delayMilliseconds) / 1000)
            }
            if soonest.isFinite { dueSoon(soonest) }
        } catch {
            let refused = (error as? PostgresError)?.isRefusedData == true
            switch batcher.withLock({ $0.flushFailed(batch, refusedData: refused) }) {
            case .retry(let seconds) where refused:
                Log.warn("the database refused a batch of finished jobs; writing them one at a time", ["count": batch.count, "error": error])
                await wake.wait(seconds: seconds)
            case .retry(let seconds):
                Log.warn("could not record finished jobs, will retry", ["count": batch.count, "retry_in_s": seconds, "error": error])
                await wake.wait(seconds: seconds)
            case .drop(let completion):
                await writeWithoutPayload(completion, refusedBecause: error)
            }
        }
    }
}
