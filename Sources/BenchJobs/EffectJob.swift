import Foundation
import JobRuntime
import Postgres
import Support

/// `bench.effect {"sleep_ms": N, "sleep_attempts": K}`: waits N ms (only in the first K
/// attempts when K is given), then writes one `bench_effects` row in the transaction that
/// completes the job. Tests count those rows to prove each job's database
/// effect is applied exactly once through crashes, rescues and shutdowns.
public struct EffectJob: Job {
    public struct Args: Codable, Sendable {
        var sleep_ms: Int?
        var sleep_attempts: Int?
    }
    public static let kind = "bench.effect"
    public init() {}

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        if let ms = args.sleep_ms, ms > 0, context.job.attempt <= (args.sleep_attempts ?? Int.max) { try await Task.sleep(for: .milliseconds(ms)) }
        let job = context.job
        let worker = context.workerID
        return try await context.completeInTransaction { tx in
            try tx.query(Self.recordEffect, [job.id, job.attempt, worker])
            return ["attempt": .int(job.attempt)]
        }
    }

    /// The effect tests count: one row per run that committed.
    static let recordEffect = Query("bench_record_effect", """
        INSERT INTO bench_effects (job_id, attempt, worker) VALUES ($1, $2, $3)
        """)
}
