import Dispatch
import Synchronization

/// The jobs this process holds: claimed and not yet written back. Their leases are renewed;
/// their tasks can be cancelled (operator cancel, timeout, shutdown, lost lease).
final class HeldJobs: Sendable {
    enum CancelReason: Sendable, Equatable {
        case operatorCancelled
        case timedOut(seconds: Double)
        case shutdown
        case leaseLost
    }

    private struct Entry {
        var task: Task<Void, Never>?
        var deadline: UInt64
        var timeout: Double
        var reason: CancelReason?
        var running = true
    }

    private let entries = Mutex<[Int64: Entry]>([:])

    /// Holds a claimed job whose run may take `timeout` seconds.
    func hold(_ id: Int64, timeout: Double, now: UInt64) {
        let deadline = now &+ UInt64(min(timeout, 1e9) * 1e9)
        entries.withLock { $0[id] = Entry(task: nil, deadline: deadline, timeout: timeout) }
    }

    func attach(_ id: Int64, task: Task<Void, Never>) {
        let cancelNow = entries.withLock { e -> Bool in
            e[id]?.task = task
            return e[id]?.reason != nil
        }
        if cancelNow { task.cancel() }
    }

    /// The handler returned; the job is held until its outcome is written.
    func runEnded(_ id: Int64) {
        entries.withLock { e in
            e[id]?.running = false
            e[id]?.task = nil
        }
    }

    func release(_ id: Int64) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }

    func release(_ ids: some Sequence<Int64>) {
        entries.withLock { e in for id in ids { e.removeValue(forKey: id) } }
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

    func reason(_ id: Int64) -> CancelReason? { entries.withLock { $0[id]?.reason } }

    var ids: [Int64] { entries.withLock { Array($0.keys) } }

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
