import Foundation
import Postgres
import Queue
import Support

/// What a running job can use: its own row, the database, the enqueuer and the configuration.
public struct JobContext: Sendable {
    public let job: ClaimedJob
    public let pool: ConnectionPool
    public let enqueuer: Enqueuer
    public let environment: Environment
    /// The lease holder name of this worker process.
    public let workerID: String

    public init(job: ClaimedJob, pool: ConnectionPool, enqueuer: Enqueuer, environment: Environment, workerID: String) {
        self.job = job
        self.pool = pool
        self.enqueuer = enqueuer
        self.environment = environment
        self.workerID = workerID
    }

    /// Runs `body` in one transaction that also marks this job completed with the JSON it
    /// returns. If the job is no longer held by this worker, the transaction rolls back and
    /// `LeaseLostError` is thrown: the effects apply exactly once. Call it once, last.
    public func completeInTransaction(_ body: @escaping @Sendable (Connection) throws -> JSON?) async throws -> JobResult {
        let job = self.job
        let workerID = self.workerID
        let result = try await pool.transaction { tx in
            let result = try body(tx)
            try JobContext.markCompleted(jobID: job.id, attempt: job.attempt, result: result, workerID: workerID, on: tx)
            return result
        }
        return .completedInTransaction(result)
    }

    /// Marks a running job completed in the caller's transaction; throws `LeaseLostError`
    /// (which must roll the transaction back) if this worker no longer holds it.
    public static func markCompleted(jobID: Int64, attempt: Int, result: JSON?, workerID: String, on tx: Connection) throws {
        try mark(Finish(jobID: jobID, attempt: attempt, state: .completed, result: result), workerID: workerID, on: tx)
    }

    /// Snoozes a running job in the caller's transaction (`scheduled` again after `seconds`,
    /// the attempt given back: what `.snooze` has the worker write later), so the snooze
    /// commits together with what the transaction records and nobody can see one without the
    /// other. Return `.snoozedInTransaction(seconds)` after the commit. Throws `LeaseLostError`
    /// (which must roll the transaction back) if this worker no longer holds the job.
    public static func markSnoozed(jobID: Int64, attempt: Int, seconds: TimeInterval, workerID: String, on tx: Connection) throws {
        try mark(Finish(jobID: jobID, attempt: attempt, state: .scheduled, delayMilliseconds: Finish.milliseconds(seconds)),
                 workerID: workerID, on: tx)
    }

    private static func mark(_ finish: Finish, workerID: String, on tx: Connection) throws {
        let changed = try FinishBatch([finish]).run(on: tx, workerID: workerID)
        guard changed.contains(finish.jobID) else { throw LeaseLostError(jobID: finish.jobID) }
    }
}
