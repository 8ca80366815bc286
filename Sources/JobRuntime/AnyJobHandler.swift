import Foundation
import Postgres
import Queue

/// A registered kind with its args decoding erased.
public struct AnyJobHandler: Sendable {
    public let kind: String
    public let queue: String
    public let maxAttempts: Int
    public let timeout: TimeInterval
    private let runner: @Sendable (ClaimedJob, JobContext) async throws -> JobResult
    /// Decodes args text into the kind's `Args` and says why it does not fit, if it does not.
    private let argsProblem: @Sendable (String) -> ArgsError?
    let batchRunner: (@Sendable ([ClaimedJob], Connection, BatchContext) throws -> [BatchOutcome])?
    /// The most jobs one batch takes (BatchJob kinds).
    public let batchLimit: Int

    init<J: Job>(_ job: J, batchRunner: (@Sendable ([ClaimedJob], Connection, BatchContext) throws -> [BatchOutcome])? = nil,
                 batchLimit: Int = 1) {
        self.batchRunner = batchRunner
        self.batchLimit = batchLimit
        kind = J.kind
        queue = J.queue
        maxAttempts = J.maxAttempts
        timeout = J.timeout
        runner = { claimed, context in
            let args: J.Args
            do {
                args = try JSONDecoder().decode(J.Args.self, from: Data(claimed.argsJSON.utf8))
            } catch {
                throw JobError.permanent(ArgsError(kind: J.kind, decoding: error).description)
            }
            return try await job.run(args, context: context)
        }
        argsProblem = { text in
            do {
                _ = try JSONDecoder().decode(J.Args.self, from: Data(text.utf8))
                return nil
            } catch {
                return ArgsError(kind: J.kind, decoding: error)
            }
        }
    }

    /// Refuses args that do not decode into this kind's `Args`, exactly as a worker would
    /// decode them when it runs the job (which would then be discarded): how `tally enqueue`
    /// refuses a job that can only fail before it exists.
    public func validate(argsJSON: String) throws(ArgsError) {
        if let problem = argsProblem(argsJSON) { throw problem }
    }

    public func run(_ job: ClaimedJob, context: JobContext) async throws -> JobResult {
        try await runner(job, context)
    }
}
