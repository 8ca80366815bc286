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
                throw JobError.permanent("args do not fit \(J.kind): \(ArgsError.describe(error))")
            }
            return try await job.run(args, context: context)
        }
    }

    public func run(_ job: ClaimedJob, context: JobContext) async throws -> JobResult {
        try await runner(job, context)
    }
}
