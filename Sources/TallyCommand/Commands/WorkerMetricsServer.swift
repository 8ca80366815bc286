import Dispatch
import Enqueue
import Foundation
import HTTPServer
import Postgres
import Queue
import Support
import Synchronization
import Worker

/// `GET /metrics` of a worker process (`TALLY_WORKER_METRICS_LISTEN`, e.g. 127.0.0.1:9101):
/// its `WorkerMetrics` and the queues' depths and oldest waiting age, the latter from one
/// query (`JobStore.stats`) cached for `depthTTL` so frequent scrapes cost the database
/// nothing more. Loopback clients, or `Authorization: Bearer $TALLY_METRICS_TOKEN`, as the
/// ingress's `/metrics`. Its own HTTP server (one loop): never in the jobs' way.
final class WorkerMetricsServer: Service {
    let name = "worker-metrics"
    static let depthTTL: Double = 5

    private let server: HTTPServer
    private let pool: ConnectionPool
    private let stopped = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let stopRequested = Atomic<Bool>(false)

    var port: UInt16 { server.port }

    init(listen: String, metrics: WorkerMetrics, databaseURL: String, token: String?, limits: SessionLimits) throws {
        var config = ServerConfig()
        try config.setListen(listen, setting: "TALLY_WORKER_METRICS_LISTEN")
        config.threads = 1
        let pool = ConnectionPool(url: databaseURL, maxConnections: 1, applicationName: "tally-worker-metrics", limits: limits)
        self.pool = pool
        let cache = Mutex<(depths: [WorkerMetrics.QueueDepth]?, at: Double)>((nil, -.infinity))
        server = try HTTPServer(config: config, handler: { request in
            guard request.path == "/metrics", request.method == "GET" else {
                return .json(404, ["error": "not_found", "message": "GET /metrics"])
            }
            guard MetricsAccess.allows(peer: request.peer, authorization: request.header("authorization"), token: token) else {
                return .json(403, ["error": "forbidden", "message": "/metrics answers loopback clients, or a bearer of TALLY_METRICS_TOKEN"])
            }
            let now = Double(DispatchTime.now().uptimeNanoseconds) / 1e9
            var depths = cache.withLock { now - $0.at < Self.depthTTL ? $0.depths : nil }
            if depths == nil {
                depths = try? await pool.withConnection { c in
                    try JobStore.stats(on: c).sorted { $0.key < $1.key }.map { queue, stats in
                        WorkerMetrics.QueueDepth(queue: queue, waiting: (stats.states[.available] ?? 0) + (stats.states[.retryable] ?? 0),
                                                 oldestSeconds: stats.oldestAge ?? 0)
                    }
                }
                if let depths { cache.withLock { $0 = (depths, now) } }
            }
            return .text(200, metrics.render(depths: depths), contentType: "text/plain; version=0.0.4; charset=utf-8")
        })
    }

    func run() async throws {
        server.start()
        Log.info("worker metrics listening", ["address": "127.0.0.1:\(server.port)"])
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let already = stopped.withLock { s -> Bool in
                if stopRequested.load(ordering: .acquiring) { return true }
                s = c
                return false
            }
            if already { c.resume() }
        }
        server.stop(grace: 1)
        pool.close()
    }

    func shutdown() {
        let c = stopped.withLock { s -> CheckedContinuation<Void, Never>? in
            stopRequested.store(true, ordering: .releasing)
            defer { s = nil }
            return s
        }
        c?.resume()
    }
}
