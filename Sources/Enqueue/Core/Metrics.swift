import Foundation
import Support
import Synchronization

/// The ingress's Prometheus metrics (`GET /metrics`, text format 0.0.4): requests by route and
/// status, a latency histogram by route, jobs enqueued by kind, enqueue batch sizes and open
/// connections. Counters live in memory, per process; they start at zero at each start.
public final class Metrics: Sendable {
    /// Latency buckets in seconds: fine below 50 ms where the enqueue path lives, coarse up to
    /// the 30 s of `Prefer: wait`.
    static let buckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]

    private struct RouteStatus: Hashable {
        let route: String
        let status: Int
    }

    private struct State {
        var requests: [RouteStatus: UInt64] = [:]
        var latency: [String: PrometheusHistogram] = [:]
        var enqueued: [String: UInt64] = [:]
        var batches = PrometheusHistogram(bounds: Metrics.batchBuckets)
    }

    private let state = Mutex(State())
    /// Read at exposition time (the server's open connections).
    private let gauges = Mutex<[String: @Sendable () -> Int]>([:])

    public init() {}

    public func record(route: String, status: Int, seconds: Double) {
        state.withLock { s in
            s.requests[RouteStatus(route: route, status: status), default: 0] += 1
            s.latency[route, default: PrometheusHistogram(bounds: Metrics.buckets)].observe(seconds)
        }
    }

    public func enqueued(kind: String, count: Int = 1) {
        state.withLock { $0.enqueued[kind, default: 0] += UInt64(count) }
    }

    public func batch(size: Int) {
        state.withLock { $0.batches.observe(Double(size)) }
    }

    public func gauge(_ name: String, _ read: @escaping @Sendable () -> Int) {
        gauges.withLock { $0[name] = read }
    }

    /// The Prometheus text exposition.
    public func render() -> String {
        let s = state.withLock { $0 }
        var out = ""
        out += "# HELP tally_ingress_requests_total HTTP requests answered, by route and status.\n"
        out += "# TYPE tally_ingress_requests_total counter\n"
        for (key, n) in s.requests.sorted(by: { ($0.key.route, $0.key.status) < ($1.key.route, $1.key.status) }) {
            out += "tally_ingress_requests_total{route=\"\(key.route)\",status=\"\(key.status)\"} \(n)\n"
        }
        out += "# HELP tally_ingress_request_duration_seconds Time from a whole request to its answer, by route.\n"
        out += "# TYPE tally_ingress_request_duration_seconds histogram\n"
        for (route, h) in s.latency.sorted(by: { $0.key < $1.key }) {
            out += h.render("tally_ingress_request_duration_seconds", labels: "route=\"\(route)\",")
        }
        out += "# HELP tally_ingress_enqueued_jobs_total Jobs inserted by the ingress, by kind (replays not counted).\n"
        out += "# TYPE tally_ingress_enqueued_jobs_total counter\n"
        for (kind, n) in s.enqueued.sorted(by: { $0.key < $1.key }) {
            out += "tally_ingress_enqueued_jobs_total{kind=\"\(kind)\"} \(n)\n"
        }
        out += "# HELP tally_ingress_enqueue_batch_size Requests written per enqueue transaction.\n"
        out += "# TYPE tally_ingress_enqueue_batch_size histogram\n"
        out += s.batches.render("tally_ingress_enqueue_batch_size")
        for (name, read) in gauges.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            out += "# TYPE \(name) gauge\n\(name) \(read())\n"
        }
        return out
    }
}
