import Foundation
import Support
import Synchronization

/// A worker process's Prometheus metrics (`TALLY_WORKER_METRICS_LISTEN`; text format 0.0.4):
/// jobs finished by kind and outcome, run time by kind, claims by queue, rescues, lease
/// renewals, completer batch sizes. In memory, per process, from zero at each start; the queue
/// depths come from `depths` at scrape time (`tally worker` reads them with one cached query).
public final class WorkerMetrics: Sendable {
    /// Run-time buckets in seconds: fine around the millisecond jobs, coarse up to the minutes
    /// of a long one.
    static let runBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]

    private struct KindOutcome: Hashable, Comparable {
        let kind: String
        let outcome: String
        static func < (a: Self, b: Self) -> Bool { (a.kind, a.outcome) < (b.kind, b.outcome) }
    }

    private struct State {
        var finished: [KindOutcome: UInt64] = [:]
        var runTime: [String: PrometheusHistogram] = [:]
        var claims: [String: UInt64] = [:]
        var rescues: UInt64 = 0
        var renewals: UInt64 = 0
        var renewalFailures: UInt64 = 0
        var completions = PrometheusHistogram(bounds: WorkerMetrics.batchBuckets)
    }

    private let state = Mutex(State())

    public init() {}

    /// A job's run ended (`outcome`: completed, retry, discarded, snoozed, cancelled, …).
    func finished(kind: String, outcome: String, seconds: Double) {
        state.withLock { s in
            s.finished[KindOutcome(kind: kind, outcome: outcome), default: 0] += 1
            s.runTime[kind, default: PrometheusHistogram(bounds: WorkerMetrics.runBuckets)].observe(seconds)
        }
    }

    func claimed(queue: String, count: Int) {
        guard count > 0 else { return }
        state.withLock { $0.claims[queue, default: 0] += UInt64(count) }
    }

    func rescued(_ count: Int) {
        guard count > 0 else { return }
        state.withLock { $0.rescues += UInt64(count) }
    }

    func renewed(_ count: Int, failed: Bool) {
        state.withLock { s in
            if failed { s.renewalFailures += 1 } else { s.renewals += UInt64(count) }
        }
    }

    func completionBatch(_ size: Int) {
        state.withLock { $0.completions.observe(Double(size)) }
    }

    /// Per queue: jobs waiting (available and retryable) and the age in seconds of the oldest.
    public struct QueueDepth: Sendable {
        public let queue: String
        public let waiting: Int64
        public let oldestSeconds: Double
        public init(queue: String, waiting: Int64, oldestSeconds: Double) {
            self.queue = queue
            self.waiting = waiting
            self.oldestSeconds = oldestSeconds
        }
    }

    /// The Prometheus text.
    public func render(depths: [QueueDepth]?) -> String {
        let s = state.withLock { $0 }
        var out = ""
        func counter(_ name: String, _ help: String, _ samples: [(String, UInt64)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
            for (labels, n) in samples { out += "\(name)\(labels) \(n)\n" }
        }
        counter("tally_jobs_finished_total", "Job runs ended in this worker, by kind and outcome.",
                s.finished.sorted { $0.key < $1.key }.map { ("{kind=\"\($0.key.kind)\",outcome=\"\($0.key.outcome)\"}", $0.value) })
        out += "# HELP tally_job_run_seconds How long job runs took, by kind (a batch's jobs: the batch's time).\n"
        out += "# TYPE tally_job_run_seconds histogram\n"
        for (kind, h) in s.runTime.sorted(by: { $0.key < $1.key }) { out += h.render("tally_job_run_seconds", labels: "kind=\"\(kind)\",") }
        counter("tally_jobs_claimed_total", "Jobs claimed by this worker, by queue.", s.claims.sorted { $0.key < $1.key }.map { ("{queue=\"\($0.key)\"}", $0.value) })
        counter("tally_jobs_rescued_total", "Jobs this worker put back in their queue after their lease lapsed.", [("", s.rescues)])
        counter("tally_lease_renewals_total", "Leases renewed.", [("", s.renewals)])
        counter("tally_lease_renewal_failures_total", "Lease renewal passes that failed.", [("", s.renewalFailures)])
        out += "# HELP tally_completer_batch_size Job outcomes written per completer statement.\n"
        out += "# TYPE tally_completer_batch_size histogram\n"
        out += s.completions.render("tally_completer_batch_size")
        if let depths {
            out += "# HELP tally_queue_waiting_jobs Jobs waiting (available or retryable), by queue.\n# TYPE tally_queue_waiting_jobs gauge\n"
            for d in depths { out += "tally_queue_waiting_jobs{queue=\"\(d.queue)\"} \(d.waiting)\n" }
            out += "# HELP tally_queue_oldest_job_age_seconds Age of the oldest waiting job, by queue.\n# TYPE tally_queue_oldest_job_age_seconds gauge\n"
            for d in depths { out += "tally_queue_oldest_job_age_seconds{queue=\"\(d.queue)\"} \(String(format: "%.3f", d.oldestSeconds))\n" }
        }
        return out
    }
}
