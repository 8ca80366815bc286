import Foundation
import Support

/// What a run returns.
public struct JobResult: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case completed(JSON?)
        /// Completed by `completeInTransaction`: nothing left to record.
        case completedInTransaction(JSON?)
        case snooze(TimeInterval)
    }

    public let kind: Kind

    /// Done; `result` is stored on the job (and answered to a `Prefer: wait` caller).
    public static func completed(_ result: JSON? = nil) -> JobResult { JobResult(kind: .completed(result)) }

    /// Run again after `seconds` without using an attempt (something it needs is not there yet).
    public static func snooze(_ seconds: TimeInterval) -> JobResult { JobResult(kind: .snooze(seconds)) }

    static func completedInTransaction(_ result: JSON?) -> JobResult { JobResult(kind: .completedInTransaction(result)) }

    /// The result JSON, if this is a completion.
    public var result: JSON? {
        switch kind {
        case .completed(let r), .completedInTransaction(let r): r
        case .snooze: nil
        }
    }
}
