import Postgres
import Queue

/// The workers' counters (`worker_counters`, added by each worker's heartbeat), rendered with
/// the ingress's own metrics: the workers have no HTTP port of their own.
extension Metrics {
    /// Counters rendered even when no worker has counted one yet (a scrape then reads 0, not
    /// a missing series).
    static let workerCounters: [(name: String, help: String, label: String, values: [String])] = [
        ("transaction_retries", "Job transactions run again after a deadlock, a serialization failure (at once) or a lock timeout (snoozed); no attempt used. By reason.",
         "reason", ["deadlock", "lock_timeout", "serialization_failure"]),
    ]

    /// Reads every worker counter.
    static func readWorkerCounters(on c: Connection) throws -> [String: [String: Int64]] {
        var out: [String: [String: Int64]] = [:]
        for counter in try JobStore.counters(on: c) {
            out[counter.name, default: [:]][counter.label] = counter.value
        }
        return out
    }

    /// `tally_worker_<name>_total{<label>="…"} N` for each counter; nil counts (the database
    /// is unreachable) leave the section out rather than report zeros.
    static func renderWorkerCounters(_ counts: [String: [String: Int64]]?) -> String {
        guard let counts else { return "" }
        var out = ""
        for counter in workerCounters {
            let metric = "tally_worker_\(counter.name)_total"
            out += "# HELP \(metric) \(counter.help)\n# TYPE \(metric) counter\n"
            let seen = counts[counter.name] ?? [:]
            for value in Set(counter.values).union(seen.keys).sorted() {
                out += "\(metric){\(counter.label)=\"\(value)\"} \(seen[value] ?? 0)\n"
            }
        }
        return out
    }
}
