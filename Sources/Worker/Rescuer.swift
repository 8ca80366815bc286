import Postgres
import Queue
import Support

/// Gives lapsed leases' jobs back to the queue: a job whose worker died (crashed, killed,
/// cut off) is `retryable` again within `rescueInterval` of its lease lapsing. Every worker
/// runs it; `SKIP LOCKED` keeps them from getting in each other's way.
struct Rescuer: Sendable {
    let loop = Loop(name: "rescuer")
    let pool: ConnectionPool
    let config: WorkerConfig
    /// Rescued jobs are due at once: the scheduler should look now.
    let rescued: @Sendable () -> Void
    var metrics = WorkerMetrics()

    static let batch = 1000

    func run() async {
        var ticks = 0
        await loop.run {
            ticks += 1
            do {
                let forget = ticks % 60 == 1
                let rows = try await pool.withConnection { c -> [RescuedJob] in
                    if forget { try JobStore.forgetDeadWorkers(on: c) }
                    return try JobStore.rescue(limit: Rescuer.batch, on: c)
                }
                for row in rows {
                    Log.warn("rescued job from a lapsed lease", [
                        "job_id": row.id, "kind": row.kind, "state": row.state.rawValue, "was_held_by": row.lockedBy ?? "?",
                    ])
                }
                metrics.rescued(rows.count)
                if !rows.isEmpty { rescued() }
                if rows.count == Rescuer.batch { return 0 }
            } catch {
                Log.warn("rescue pass failed", ["error": error])
            }
            return config.rescueInterval
        }
    }
}
