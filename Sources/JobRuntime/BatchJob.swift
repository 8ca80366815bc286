import Foundation
import Postgres
import Queue

/// A job kind whose claimed jobs can run together: the worker hands it every job of its kind
/// from one claim (up to `batchLimit`) and completes them all in ONE transaction.
///
/// Why: `usage.record` on one hot account. Jobs each in their own transaction fight over the
/// account's row lock and pay a commit each; a batch takes the lock once, applies every debit in
/// memory and writes them in a few statements. The worker side is `BatchExecutor`
/// (Sources/Worker), which also measured the difference.
///
/// The contract: `runBatch` runs inside the worker's transaction, and after it returns the
/// worker marks each `.completed` job completed in that same transaction, touching only jobs
/// still running and held by this worker. The job rows are not locked first (optimistic: a
/// lease is rarely lost). If a job turns out no longer held at completion (rescued or
/// cancelled meanwhile), the transaction rolls back and `runBatch` runs again with the jobs
/// still held, locked this time, and the others left out: so `runBatch` may run twice for a
/// job and must change nothing outside `tx`. A job that fails (bad args) returns `.failed`
/// and has made no database change. If `runBatch` throws, the whole transaction rolls back
/// and the worker runs each job alone through `run`, so one job cannot sink the others.
/// `run` must do for one job exactly what `runBatch` does for many.
public protocol BatchJob: Job {
    /// The most jobs in one batch (and one transaction).
    static var batchLimit: Int { get }

    func runBatch(_ jobs: [BatchItem<Args>], on tx: Connection, context: BatchContext) throws -> [BatchOutcome]
}

extension BatchJob {
    public static var batchLimit: Int { 500 }
}

extension BatchJob {
    /// Decodes each job's args, runs the decodable ones as one batch, and puts the outcomes
    /// back in the order of `jobs`.
    static func batchRunner(_ job: Self) -> @Sendable ([ClaimedJob], Connection, BatchContext) throws -> [BatchOutcome] {
        { claimed, tx, context in
            var outcomes = [BatchOutcome?](repeating: nil, count: claimed.count)
            var items: [BatchItem<Args>] = []
            var positions: [Int] = []
            for (i, c) in claimed.enumerated() {
                do {
                    items.append(BatchItem(job: c, args: try JSONDecoder().decode(Args.self, from: Data(c.argsJSON.utf8))))
                    positions.append(i)
                } catch {
                    outcomes[i] = .failed(ArgsError(kind: kind, decoding: error).description, permanent: true)
                }
            }
            if !items.isEmpty {
                let results = try job.runBatch(items, on: tx, context: context)
                precondition(results.count == items.count, "\(kind).runBatch returned \(results.count) outcomes for \(items.count) jobs")
                for (p, r) in zip(positions, results) { outcomes[p] = r }
            }
            return outcomes.map { $0! }
        }
    }
}
