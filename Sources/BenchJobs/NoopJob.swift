import JobRuntime
import Support

/// `bench.noop`: does nothing. Measures the queue itself (ops/bench).
public struct NoopJob: Job {
    public struct Args: Codable, Sendable {}
    public static let kind = "bench.noop"
    public init() {}
    public func run(_ args: Args, context: JobContext) async throws -> JobResult { .completed() }
}
