import Dispatch
import Queue
import Synchronization

/// The jobs this process holds: claimed and not yet written back. Their leases are renewed;
/// their tasks can be cancelled (operator cancel, timeout, shutdown, lost lease).
///
/// One entry per job, for the attempt that runs. A run whose lease lapsed may still be going
/// when this process claims the same job again; the new claim replaces its entry and cancels
/// it, and whatever the stale run reports later (ended, released) no longer touches the entry.
final class HeldJobs: Sendable {
    enum CancelReason: Sendable, Equatable {
        case operatorCancelled
        case timedOut(seconds: Double)
        case shutdown
        case leaseLost
    }

    private struct Entry {
        var attempt: Int
        var task: Task<Void, Never>?
        var deadline: UInt64
        var timeout: Double
        var reason: CancelReason?
        var running = true
    }

    private let entries = Mutex<[Int64: Entry]>([:])

    /// Holds attempt `attempt` of a claimed job whose run may take `timeout` seconds.
    func hold(_ id: Int64, attempt: Int, timeout: Double, now: UInt64) {
        let deadline = now &+ UInt64(min(timeout, 1e9) * 1e9)
        let stale = entries.withLock { e -> Task<Void, Never>? in
            let old = e[id]
            e[id] = Entry(attempt: attempt, task: nil, deadline: deadline, timeout: timeout)
            return old?.running == true ? old?.task : nil
        }
        // The earlier attempt's lease lapsed and the job was rescued: its results cannot be
        // written any more (the finish checks the attempt), so stop it.
        stale?.cancel()
    }

    func attach(_ id: Int64, attempt: Int, task: Task<Void, Never>) {
        let cancelNow = entries.withLock { e -> Bool in
            guard e[id]?.attempt == attempt else { return true }
            e[id]?.task = task
            return e[id]?.reason != nil
        }
        if cancelNow { task.cancel() }
    }

    /// The handler returned; the job is held until its outcome is written.
    func runEnded(_ id: Int64, attempt: Int) {
        entries.withLock { e in
            guard e[id]?.attempt == attempt else { return }
            e[id]?.running = false
            e[id]?.task = nil
        }
    }

    func release(_ id: Int64, attempt: Int) {
        entries.withLock { e in
            if e[id]?.attempt == attempt { e.removeValue(forKey: id) }
        }
    }

    func release(_ finishes: [Finish]) {
        entries.withLock { e in
            for f in finishes where e[f.jobID]?.attempt == f.attempt { e.removeValue(forKey: f.jobID) }
        }
    }

    /// Cancels a running job's task; false when it is not running here.
    @discardableResult
    func cancel(_ id: Int64, reason: CancelReason) -> Bool {
        let task = entries.withLock { e -> Task<Void, Never>? in
            guard e[id]?.running == true, e[id]?.reason == nil else { return nil }
            e[id]?.reason = reason
            return e[id]?.task
        }
        task?.cancel()
        return task != nil
    }

    /// Why attempt `attempt`'s run was cancelled; `.leaseLost` once a later claim replaced it.
    func reason(_ id: Int64, attempt: Int) -> CancelReason? {
        entries.withLock { e in
            guard let entry = e[id] else { return nil }
            return entry.attempt == attempt ? entry.reason : .leaseLost
        }
    }

    /// The jobs held, each with the attempt that runs (for lease renewal).
    var leases: [(id: Int64, attempt: Int)] { entries.withLock { $0.map { (id: $0.key, attempt: $0.value.attempt) } } }

    /// Whether attempt `attempt` of job `id` is still held.
    func holds(_ id: Int64, attempt: Int) -> Bool { entries.withLock { $0[id]?.attempt == attempt } }

    var runningCount: Int { entries.withLock { $0.values.filter(\.running).count } }

    var isEmpty: Bool { entries.withLock { $0.isEmpty } }

    /// Cancels the runs past their deadline; returns how many.
    func cancelOverdue(now: UInt64) -> Int {
        let tasks = entries.withLock { e -> [Task<Void, Never>] in
            var out: [Task<Void, Never>] = []
            for (id, entry) in e where entry.running && entry.reason == nil && entry.deadline <= now {
                e[id]?.reason = .timedOut(seconds: entry.timeout)
                if let t = entry.task { out.append(t) }
            }
            return out
        }
        for t in tasks { t.cancel() }
        return tasks.count
    }

    func cancelAll(reason: CancelReason) {
        let tasks = entries.withLock { e -> [Task<Void, Never>] in
            var out: [Task<Void, Never>] = []
            for (id, entry) in e where entry.running && entry.reason == nil {
                e[id]?.reason = reason
                if let t = entry.task { out.append(t) }
            }
            return out
        }
        for t in tasks { t.cancel() }
    }
}
