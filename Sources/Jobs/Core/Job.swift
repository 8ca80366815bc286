import Foundation
import Postgres
import Queue
import Support

/// A job kind: its name, its args and what it does.
///
/// ```swift
/// struct GreetJob: Job {
///     struct Args: Decodable, Sendable { let name: String }
///     static let kind = "greet"
///     func run(_ args: Args, context: JobContext) async throws -> JobResult {
///         try await context.completeInTransaction { tx in
///             try tx.query("INSERT INTO greetings (name) VALUES ($1)", [args.name])
///             return ["greeted": .string(args.name)]
///         }
///     }
/// }
/// ```
///
/// A job whose effects land in PostgreSQL applies them with `context.completeInTransaction`,
/// which marks the job completed in the same transaction (exactly once, even when a rescued
/// job's first run finishes late). A job without database effects returns `.completed(...)`
/// and the worker's batch completer records it. Throw `JobError.permanent` to discard without
/// retrying; any other error is retried with backoff until `maxAttempts`.
public protocol Job: Sendable {
    associatedtype Args: Decodable & Sendable
    /// The kind name (`usage.record`). Unique in the registry.
    static var kind: String { get }
    /// The queue jobs of this kind go to unless the enqueuer says otherwise.
    static var queue: String { get }
    static var maxAttempts: Int { get }
    /// How long one run may take before it is cancelled and counted as a failed attempt.
    /// This is "the job ran too long"; "the worker died" is the lease's business.
    static var timeout: TimeInterval { get }

    func run(_ args: Args, context: JobContext) async throws -> JobResult
}

extension Job {
    public static var queue: String { "default" }
    public static var maxAttempts: Int { NewJob.defaultMaxAttempts }
    public static var timeout: TimeInterval { 300 }
}

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

/// Errors a handler throws to steer the queue.
public enum JobError: Error, CustomStringConvertible, Sendable {
    /// Retrying cannot help (bad args, a missing setting, a refused request): discard now.
    case permanent(String)

    public var description: String {
        switch self {
        case .permanent(let m): m
        }
    }
}

/// The job is no longer held by this worker (its lease lapsed and it was rescued, or an
/// operator cancelled it): its transaction was rolled back and nothing of it was applied.
public struct LeaseLostError: Error, CustomStringConvertible, Sendable {
    public let jobID: Int64
    public var description: String { "job \(jobID) is no longer held by this worker (rescued or cancelled); its effects were rolled back" }
}
