import Postgres
import Queue
import Support

/// Renews the leases of the jobs this process holds, and its heartbeat in `workers`, every
/// `leaseRenewInterval` (default 10 s for a 30 s lease: two renewals can fail before another
/// worker may take the jobs). A job no longer ours (rescued while we were cut off, or
/// cancelled) has its task cancelled: whatever it does next cannot apply.
struct LeaseRenewer: Sendable {
    let loop = Loop(name: "lease-renewer")
    let pool: ConnectionPool
    let workerID: String
    let held: HeldJobs
    let config: WorkerConfig

    func run() async {
        let interval = config.leaseRenewInterval
        let leaseMs = Int64(config.lease * 1000)
        await loop.run {
            let ids = held.ids
            let workerID = self.workerID
            do {
                let kept = try await pool.withConnection { c -> Set<Int64> in
                    try c.query(JobQueries.heartbeat, [workerID])
                    guard !ids.isEmpty else { return [] }
                    return Set(try c.query(JobQueries.renewLeases, [ids, workerID, leaseMs]).map { try $0.int64("id") })
                }
                // Jobs released meanwhile (finished and written) are not lost leases.
                let current = Set(held.ids)
                for id in ids where !kept.contains(id) && current.contains(id) {
                    if held.cancel(id, reason: .leaseLost) {
                        Log.warn("job no longer held by this worker, cancelling its run", ["job_id": id])
                    }
                }
            } catch {
                Log.warn("lease renewal failed", ["jobs": ids.count, "error": error])
                return min(interval, 1)
            }
            return interval
        }
    }
}
