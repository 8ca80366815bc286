import Dispatch
import Synchronization

/// The jobs this process holds: claimed and not yet written back. Their leases are renewed;
/// their tasks can be cancelled (operator cancel, timeout, shutdown, lost lease). A task that
/// runs a batch is shared by its jobs: one job's lost lease or cancel leaves it running (the
/// batch's completion leaves that job out); a timeout or shutdown stops it.
///
/// One entry per job, for the claim that runs (`Hold`). A run whose lease lapsed may still be
/// going when this process claims the same job again; the new claim replaces its entry and
/// cancels it, and whatever the stale run reports later (ended, released) no longer touches
/// the entry.
final class HeldJobs: Sendable {
    enum CancelReason: Sendable, Equatable {
        case operatorCancelled
        case timedOut(seconds: Double)
        case shutdown
        case leaseLost
    }

    private struct Entry {
        var hold: Hold
        var task: Task<Void, Never>?
        var deadline: UInt64
        var timeout: Double
        var reason: CancelReason?
        var running = true
        /// The task runs a batch of jobs (`BatchExecutor`), this one among them.
        var shared = false
    }

    private let entries = Mutex<[Int64: Entry]>([:])
    private let serials = Atomic<UInt64>(0)

    /// Holds attempt `attempt` of a claimed job whose run may take `timeout` seconds.
    func hold(_ id: Int64, attempt: Int, timeout: Double, now: UInt64) -> Hold {
        let hold = Hold(id: id, attempt: attempt, serial: serials.add(1, ordering: .relaxed).newValue)
        let deadline = now &+ UInt64(min(timeout, 1e9) * 1e9)
        let stale = entries.withLock { e -> Task<Void, Never>? in
            let old = e[id]
            e[id] = Entry(hold: hold, task: nil, deadline: deadline, timeout: timeout)
            return old?.running == true ? old?.task : nil
        }
        // The earlier claim's lease lapsed and the job was rescued: its results cannot be
        // written any more (the finish checks the attempt), so stop it.
        stale?.cancel()
        return hold
    }

    /// `shared`: the task runs a batch, this job among others.
    func attach(_ hold: Hold, task: Task<Void, Never>, shared: Bool = false) {
        let cancelNow = entries.withLock { e -> Bool in
            // Released already. A batch releases each job as its transaction commits, possibly
            // before the last of its jobs is attached: its task goes on for the others. A single
            // job's task is stopped (given back before it could start).
            guard let entry = e[hold.id] else { return !shared }
            // A later claim of the job replaced this one: this run's results cannot apply.
            guard entry.hold == hold else { return true }
            e[hold.id]?.task = task
            e[hold.id]?.shared = shared
            // Cancelled before the task was known; for a batch, only what stops every job of it.
            if shared, entry.reason == .leaseLost || entry.reason == .operatorCancelled { return false }
            return entry.reason != nil
        }
        if cancelNow { task.cancel() }
    }

    /// The handler returned; the job is held until its outcome is written.
    func runEnded(_ hold: Hold) {
        entries.withLock { e in
            guard e[hold.id]?.hold == hold else { return }
            e[hold.id]?.running = false
            e[hold.id]?.task = nil
        }
    }

    func release(_ hold: Hold) {
        entries.withLock { e in
            if e[hold.id]?.hold == hold { e.removeValue(forKey: hold.id) }
        }
    }

    func release(_ holds: [Hold]) {
        entries.withLock { e in
            for hold in holds where e[hold.id]?.hold == hold { e.removeValue(forKey: hold.id) }
        }
    }

    /// Cancels a running job's task (an operator's cancel, by job id); false when it is not
    /// running here.
    @discardableResult
    func cancel(_ id: Int64, reason: CancelReason) -> Bool {
        cancel(where: { $0.id == id }, id: id, reason: reason)
    }

    /// Cancels this claim's run if it is still the one held (the renewer found its lease gone).
    @discardableResult
    func cancel(_ hold: Hold, reason: CancelReason) -> Bool {
        cancel(where: { $0 == hold }, id: hold.id, reason: reason)
    }

    private func cancel(where matches: (Hold) -> Bool, id: Int64, reason: CancelReason) -> Bool {
        let task = entries.withLock { e -> Task<Void, Never>? in
            guard let entry = e[id], matches(entry.hold), entry.running, entry.reason == nil else { return nil }
            // One job of a batch lost or cancelled: the batch's own completion finds it no longer
            // held and commits the others without it (BatchExecutor.attempt). Cancelling the
            // shared task would throw away the whole batch and make every other job of it fail
            // an attempt (seen: batches of 500 transfers cancelled for one job).
            if entry.shared && (reason == .leaseLost || reason == .operatorCancelled) { return nil }
            e[id]?.reason = reason
            return entry.task
        }
        task?.cancel()
        return task != nil
    }

    /// Why this claim's run was cancelled; `.leaseLost` once a later claim replaced it.
    func reason(_ hold: Hold) -> CancelReason? {
        entries.withLock { e in
            guard let entry = e[hold.id] else { return nil }
            return entry.hold == hold ? entry.reason : .leaseLost
        }
    }

    /// The claims held, by job id.
    var leases: [Hold] { entries.withLock { $0.values.map(\.hold) }.sorted { $0.id < $1.id } }

    /// The claims whose leases are to be renewed, by job id (lease renewal locks rows in id
    /// order): all but runs the watchdog timed out that are still going. Such a run was
    /// cancelled; if it does not stop (a call to a database that never answers), its lease
    /// lapses and the rescuer hands the job to another attempt. Once the run has ended its
    /// outcome is being written, and the lease is renewed again until it is.
    var renewable: [Hold] {
        entries.withLock { e in
            e.values.filter { entry in
                if entry.running, case .timedOut? = entry.reason { return false }
                return true
            }.map(\.hold)
        }.sorted { $0.id < $1.id }
    }

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
