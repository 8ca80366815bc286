import Foundation
import Support

/// What a run returns.
public struct JobResult: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case completed(JSON?)
        /// Completed by `completeInTransaction`: nothing left to record.
        case completedInTransaction(JSON?)
        case snooze(TimeInterval)
        /// Snoozed by `JobContext.markSnoozed` in the job's own transaction: nothing left to record.
        case snoozedInTransaction(TimeInterval)
    }

    public let kind: Kind

    /// Done; `result` is stored on the job (and answered to a `Prefer: wait` caller).
    public static func completed(_ result: JSON? = nil) -> JobResult { JobResult(kind: .completed(result)) }

    /// Run again after `seconds` without using an attempt (something it needs is not there yet).
    public static func snooze(_ seconds: TimeInterval) -> JobResult { JobResult(kind: .snooze(seconds)) }

    static func completedInTransaction(_ result: JSON?) -> JobResult { JobResult(kind: .completedInTransaction(result)) }

    /// What to return after `JobContext.markSnoozed` committed: the worker then writes nothing
    /// more for this run (a late write could otherwise land on a later run of the same job).
    public static func snoozedInTransaction(_ seconds: TimeInterval) -> JobResult { JobResult(kind: .snoozedInTransaction(seconds)) }

    /// The result JSON, if this is a completion.
    public var result: JSON? {
        switch kind {
        case .completed(let r), .completedInTransaction(let r): r
        case .snooze, .snoozedInTransaction: nil
        }
    }
}
