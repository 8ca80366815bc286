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
            let leases = held.leases
            let workerID = self.workerID
            do {
                let kept = try await pool.withConnection { c -> Set<Int64> in
                    try c.query(JobQueries.heartbeat, [workerID])
                    guard !leases.isEmpty else { return [] }
                    return Set(try c.query(JobQueries.renewLeases, [leases.map(\.id), workerID, leaseMs, leases.map(\.attempt)])
                        .map { try $0.int64("id") })
                }
                // Claims released meanwhile (finished and written) are not lost leases.
                for lease in leases where !kept.contains(lease.id) {
                    if held.cancel(lease, reason: .leaseLost) {
                        Log.warn("job no longer held by this worker, cancelling its run", ["job_id": lease.id, "attempt": lease.attempt])
                    }
                }
            } catch {
                Log.warn("lease renewal failed", ["jobs": leases.count, "error": error])
                return min(interval, 1)
            }
            return interval
        }
    }
}
