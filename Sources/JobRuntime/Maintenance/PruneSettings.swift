import Foundation
import Support

/// How long finished jobs are kept (`jobs.prune`), read once at start.
public struct PruneSettings: Sendable, Equatable {
    /// `TALLY_RETENTION_COMPLETED`: completed and cancelled jobs.
    public var completed: TimeInterval
    /// `TALLY_RETENTION_DISCARDED`: discarded jobs.
    public var discarded: TimeInterval

    /// Every setting at its default (no environment).
    public static let defaults = try! PruneSettings(Environment([:]))  // no setting given: nothing to refuse

    public init(_ environment: Environment) throws {
        completed = try environment.checkedDuration("TALLY_RETENTION_COMPLETED", default: 7 * 86400)
        discarded = try environment.checkedDuration("TALLY_RETENTION_DISCARDED", default: 30 * 86400)
    }
}
