import Foundation
import Queue

/// A job kind: its name, its args and what it does.
///
/// ```swift
/// struct GreetJob: Job {
///     struct Args: Codable, Sendable { let name: String }
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
    associatedtype Args: Codable & Sendable
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
