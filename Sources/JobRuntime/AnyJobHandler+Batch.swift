import Postgres
import Queue

extension AnyJobHandler {
    /// Runs `jobs` (all of this handler's kind) as one batch in `tx`; one outcome per job, in
    /// order. A job whose args do not decode fails permanently on its own.
    public func runBatch(_ jobs: [ClaimedJob], on tx: Connection, context: BatchContext) throws -> [BatchOutcome] {
        guard let batchRunner else { throw JobError.permanent("kind \(kind) does not run in batches") }
        return try batchRunner(jobs, tx, context)
    }

    public var runsInBatches: Bool { batchRunner != nil }
}
