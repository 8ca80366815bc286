import Foundation
import Postgres
import Queue
import Support

/// `jobs.prune`: deletes finished jobs past their retention, 1,000 at a time (each batch its
/// own short statement, so pruning a backlog never holds locks for long). Completed and
/// cancelled jobs are kept `TALLY_RETENTION_COMPLETED` (7 days), discarded ones
/// `TALLY_RETENTION_DISCARDED` (30 days). An idempotency key lives as long as its job.
public struct PruneJobsJob: Job {
    public struct Args: Codable, Sendable {
        var as_of: String?
    }
    public static let kind = "jobs.prune"
    public static let queue = "maintenance"
    public static let batch = 1000

    let settings: PruneSettings

    public init(settings: PruneSettings = .defaults) {
        self.settings = settings
    }

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let completed = Int64(settings.completed)
        let discarded = Int64(settings.discarded)
        let total = try await BatchedDelete.run(batch: Self.batch, pool: context.pool) { c, limit in
            try JobStore.prune(completedOlderThan: .seconds(completed), discardedOlderThan: .seconds(discarded), limit: limit, on: c)
        }
        return .completed(["deleted": .int(total)])
    }
}
