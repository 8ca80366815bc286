import Foundation
import Support

/// How long finished jobs are kept (`jobs.prune`), read once at start.
public struct PruneSettings: Sendable, Equatable {
    /// `TALLY_RETENTION_COMPLETED`: completed and cancelled jobs.
    public var completed: TimeInterval
    /// `TALLY_RETENTION_DISCARDED`: discarded jobs.
    public var discarded: TimeInterval

    public static let defaults = PruneSettings(completed: 7 * 86400, discarded: 30 * 86400)

    public init(completed: TimeInterval, discarded: TimeInterval) {
        self.completed = completed
        self.discarded = discarded
    }

    public init(_ environment: Environment) throws {
        completed = try environment.checkedDuration("TALLY_RETENTION_COMPLETED", default: Self.defaults.completed)
        discarded = try environment.checkedDuration("TALLY_RETENTION_DISCARDED", default: Self.defaults.discarded)
    }
}
