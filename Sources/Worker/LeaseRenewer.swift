import Postgres
import Queue
import Support

/// Renews the leases of the jobs this process holds, and its heartbeat in `workers`, every
/// `leaseRenewInterval` (default 10 s for a 30 s lease: two renewals can fail before another
/// worker may take the jobs). A job no longer ours (rescued while we were cut off, or
/// cancelled) has its task cancelled (unless the task runs a batch of other jobs too: the
/// batch's completion leaves it out): whatever it does next cannot apply. The heartbeat also
/// carries the process's counters (`WorkerCounters`) to `worker_counters`.
///
/// `pool` is the renewer's own (one connection, not the jobs' pool): renewals never wait for a
/// connection behind job work. Each renewal must end within `timeout` (the renewal interval,
/// at least 2 s): past it, it is cancelled, and its connection cut if the cancel is not
/// answered, so a dead connection costs one interval rather than every lease. Jobs the
/// watchdog timed out are not renewed while their run goes on (`HeldJobs.renewable`): if the
/// run cannot be stopped, its lease lapses and the rescuer gives the job to another attempt.
struct LeaseRenewer: Sendable {
    let loop = Loop(name: "lease-renewer")
    let pool: ConnectionPool
    let workerID: String
    let held: HeldJobs
    let config: WorkerConfig
    var metrics = WorkerMetrics()
    let counters: WorkerCounters

    func run() async {
        let interval = config.leaseRenewInterval
        let timeout = max(interval, 2)
        let leaseMs = Int64(config.lease * 1000)
        await loop.run {
            let leases = held.renewable
            let workerID = self.workerID
            let counted = counters.drain()
            do {
                let kept = try await pool.withConnection(timeout: timeout) { c -> Set<Int64> in
                    try JobStore.heartbeat(workerID: workerID, on: c)
                    try Self.flush(counted, on: c)
                    guard !leases.isEmpty else { return [] }
                    return try JobStore.renewLeases(leases.map { JobAttempt(id: $0.id, attempt: $0.attempt) }, workerID: workerID,
                                                    lease: .milliseconds(leaseMs), on: c)
                }
                metrics.renewed(kept.count, failed: false)
                // Claims released meanwhile (finished and written) are not lost leases.
                for lease in leases where !kept.contains(lease.id) {
                    if held.cancel(lease, reason: .leaseLost) {
                        Log.warn("job no longer held by this worker, cancelling its run", ["job_id": lease.id, "attempt": lease.attempt])
                    }
                }
            } catch {
                counters.restore(counted)
                metrics.renewed(0, failed: true)
                Log.warn("lease renewal failed", ["jobs": leases.count, "error": error])
                return min(interval, 1)
            }
            return interval
        }
        // Stopping: what was counted since the last heartbeat, so a short run's counts are kept.
        let counted = counters.drain()
        _ = try? await pool.withConnection(timeout: 2) { try Self.flush(counted, on: $0) }
        pool.close()
    }

    /// Adds counts to `worker_counters` (nothing when there are none).
    static func flush(_ counted: [(key: WorkerCounters.Key, value: Int64)], on c: Connection) throws {
        guard !counted.isEmpty else { return }
        try JobStore.addCounters(counted.map { WorkerCounter(name: $0.key.name, label: $0.key.label, value: $0.value) }, on: c)
    }
}
