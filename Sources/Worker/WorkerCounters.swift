import Synchronization

/// Counts kept by a worker process for `/metrics` (the ingress serves it; see
/// sql/0009_worker_counters.sql). Counted in memory, added to `worker_counters` with each
/// heartbeat (`LeaseRenewer`), so counting costs a lock, never a statement.
final class WorkerCounters: Sendable {
    struct Key: Hashable, Comparable, Sendable {
        let name: String
        let label: String
        static func < (a: Key, b: Key) -> Bool { (a.name, a.label) < (b.name, b.label) }
    }

    /// A job's transaction was run again at once after a deadlock or serialization failure, or
    /// snoozed after a lock timeout.
    static func transactionRetry(sqlState: String?) -> Key {
        switch sqlState {
        case "40P01": Key(name: "transaction_retries", label: "deadlock")
        case "55P03": Key(name: "transaction_retries", label: "lock_timeout")
        default: Key(name: "transaction_retries", label: "serialization_failure")
        }
    }

    private let counts = Mutex<[Key: Int64]>([:])

    func add(_ key: Key, _ n: Int64 = 1) {
        counts.withLock { $0[key, default: 0] &+= n }
    }

    /// What was counted since the last call, in key order (the order the flush's upsert takes
    /// the counters' rows in, so two workers flushing at once never deadlock on them).
    func drain() -> [(key: Key, value: Int64)] {
        counts.withLock { c in
            defer { c = [:] }
            return c.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
    }

    /// Puts back counts whose flush failed (the next heartbeat tries again).
    func restore(_ drained: [(key: Key, value: Int64)]) {
        counts.withLock { c in for (key, value) in drained { c[key, default: 0] &+= value } }
    }
}
