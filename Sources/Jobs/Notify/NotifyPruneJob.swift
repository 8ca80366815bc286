import Foundation
import JobRuntime
import Postgres
import Support

/// `notify.prune` (hourly): deletes delivery attempts (`notify_deliveries`) older than
/// `TALLY_RETENTION_DELIVERIES` (30 days), 1,000 at a time (`BatchedDelete`).
/// The notifications themselves (the users' inbox) and `reward_actions` (which keep a replayed
/// idempotency key from paying twice) are kept.
public struct NotifyPruneJob: Job {
    public struct Args: Codable, Sendable {
        var as_of: String?
    }
    public static let kind = "notify.prune"
    public static let queue = "maintenance"
    public static let batch = 1000

    let settings: NotifySettings

    public init(settings: NotifySettings = .defaults) {
        self.settings = settings
    }

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let retention = Int64(settings.deliveryRetention)
        let total = try await BatchedDelete.run(NotifyQueries.pruneDeliveries, [retention], batch: Self.batch, pool: context.pool)
        return .completed(["deleted": .int(total)])
    }
}
