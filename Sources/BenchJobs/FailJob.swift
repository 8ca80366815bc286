import JobRuntime
import Support

/// `bench.fail {"message": "...", "permanent": false, "succeed_on": N}`: fails with `message`
/// (permanently if asked), or completes on attempt `succeed_on`. Exercises retries and backoff.
public struct FailJob: Job {
    public struct Args: Codable, Sendable {
        var message: String?
        var permanent: Bool?
        var succeed_on: Int?
    }
    public static let kind = "bench.fail"
    public init() {}

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        if let n = args.succeed_on, context.job.attempt >= n { return .completed(["attempt": .int(context.job.attempt)]) }
        let message = args.message ?? "bench.fail failed on purpose"
        if args.permanent == true { throw JobError.permanent(message) }
        throw BenchFailure(message: message)
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
