import Dispatch
import Foundation
import HTTPServer
import Postgres
import Queue
import Support
import Synchronization

/// `tally ingress`: the HTTP server, the enqueue batcher and the shared LISTEN connection for
/// waiting requests. Minimal by design: verify, validate, enqueue, answer.
public final class Ingress: Service {
    public var name: String { "ingress" }
    public let config: IngressConfig
    public let context: IngressContext
    public let router: Router
    private let server: HTTPServer
    /// Nil when there is no LISTEN (pooled, no `TALLY_LISTEN_DATABASE_URL`): then `poller` wakes
    /// every waiting request and stream every `pollInterval` to read again.
    private let listener: Listener?
    private let poller = Mutex<Task<Void, Never>?>(nil)
    /// Without LISTEN: each tick costs one read per waiting request, and bounds how late a
    /// `Prefer: wait` answer or a stream event comes.
    static let pollInterval = 0.2
    private let stopped = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let stopRequested = Atomic<Bool>(false)
    /// The stream fan-out's pump (`StreamHub.run`), while serving.
    private let pump = Mutex<Task<Void, Never>?>(nil)

    public init(config: IngressConfig, endpoints: [any Endpoint] = Routes.all) throws {
        self.config = config
        let metrics = Metrics()
        let pool = ConnectionPool(url: config.databaseURL, maxConnections: config.poolSize, applicationName: "tally-ingress",
                                  limits: config.sessionLimits)
        let replica = config.readDatabaseURL.map {
            ConnectionPool(url: $0, maxConnections: config.poolSize, applicationName: "tally-ingress-read", limits: config.sessionLimits)
        }
        // The window is configurable: a commit that NOTIFYs holds PostgreSQL's notify lock
        // through its WAL flush, so commits that notify never group.
        let enqueuer = Enqueuer(pool: pool, path: .ingressFunction, debounceWindowNanos: UInt64(config.notifyWindow * 1e9))
        let waiters = JobWaiters()
        let context = IngressContext(
            pool: pool, replica: replica,
            batcher: EnqueueBatcher(pool: pool, enqueuer: enqueuer, metrics: metrics, maxBatch: config.maxBatch, maxConcurrent: config.flushes),
            waiters: waiters,
            apiKeys: APIKeyCache(pool: pool, refresh: config.apiKeyRefresh),
            rateLimiter: RateLimiter(rate: config.rateLimit, burst: config.rateBurst),
            metrics: metrics, stripeSecrets: config.stripeSecrets, bitgoSecrets: config.bitgoSecrets, metricsToken: config.metricsToken,
            streamKeys: StreamTokenKeys(pool: pool, refresh: config.apiKeyRefresh), streamSettings: config.stream,
            corsOrigins: config.corsOrigins)
        self.context = context
        let router = Router(endpoints)
        self.router = router
        // One LISTEN for the process: job ends (Prefer: wait) and notifications (the streams).
        let streams = context.streams
        listener = config.listenURL.map {
            Listener(url: $0, channels: [Channels.jobFinished, Channels.events], limits: config.sessionLimits,
                     onConnect: {
                         waiters.wakeAll()
                         streams.resync()
                     }, onNotification: { n in
                         if n.channel == Channels.events { streams.notified(n.payload) } else { waiters.notified(n.payload) }
                     })
        }
        server = try HTTPServer(config: config.server, handler: { request in
            await Ingress.respond(to: request, router: router, context: context)
        }, refused: { status in
            metrics.record(route: "unparsed", status: status, seconds: 0)
        })
        metrics.gauge("tally_ingress_open_connections") { [server] in server.connectionCount }
        metrics.gauge("tally_ingress_waiting_requests") { waiters.count }
        metrics.gauge("tally_ingress_open_streams") { streams.streamCount }
    }

    /// The port the server listens on (the one picked when TALLY_LISTEN asked for port 0).
    public var port: UInt16 { server.port }

    /// Routes that answer 503 because their secret is not set.
    public var unavailableRoutes: [String] {
        var out: [String] = []
        if config.stripeSecrets.isEmpty { out.append("POST /webhooks/stripe (STRIPE_WEBHOOK_SECRET is not set)") }
        if config.bitgoSecrets.isEmpty { out.append("POST /webhooks/bitgo (BITGO_WEBHOOK_SECRET is not set)") }
        return out
    }

    /// Starts serving without blocking (tests); `stop()` ends it.
    public func start() {
        let streams = context.streams
        if let listener {
            listener.start()
        } else {
            let waiters = context.waiters
            poller.withLock {
                $0 = Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(Int(Self.pollInterval * 1000)))
                        waiters.wakeAll()
                        streams.resync()
                    }
                }
            }
            Log.info("no LISTEN connection (TALLY_DB_PREPARED=off and no TALLY_LISTEN_DATABASE_URL): waiting requests poll",
                     ["poll_interval_s": Self.pollInterval])
        }
        pump.withLock { $0 = Task { await streams.run() } }
        server.start()
        Log.info("ingress listening", ["address": "\(config.server.host):\(server.port)", "threads": config.server.threads,
                                       "db_pool": config.poolSize, "rate_limit": config.rateLimit > 0 ? "\(config.rateLimit)/s" : "off"])
        for route in unavailableRoutes { Log.warn("route unavailable, answering 503", ["route": route]) }
    }

    public func stop() {
        // Streams never finish by themselves: close them first, so the server's grace is for
        // the requests in flight.
        context.streams.stop()
        pump.withLock { $0?.cancel() }
        server.stop(grace: 10)
        listener?.stop()
        poller.withLock { $0?.cancel() }
        context.pool.close()
        context.replica?.close()
    }

    public func run() async throws {
        start()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let already = stopped.withLock { s -> Bool in
                if stopRequested.load(ordering: .acquiring) { return true }
                s = c
                return false
            }
            if already { c.resume() }
        }
        Log.info("ingress stopping: finishing requests in flight", [:])
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                stop()
                c.resume()
            }
            thread.start()
        }
        Log.info("ingress stopped", [:])
    }

    public func shutdown() {
        let c = stopped.withLock { s -> CheckedContinuation<Void, Never>? in
            stopRequested.store(true, ordering: .releasing)
            let c = s
            s = nil
            return c
        }
        c?.resume()
    }

    // MARK: Requests

    /// Routes (404, 405), authenticates (401), runs the endpoint, turns errors into answers and
    /// records the metrics.
    static func respond(to http: HTTPRequest, router: Router, context: IngressContext) async -> HTTPResponse {
        let started = DispatchTime.now().uptimeNanoseconds
        var route = "unmatched"
        let response: HTTPResponse
        do throws(APIError) {
            switch router.match(method: http.method, path: http.path) {
            case .notFound: throw .notFound("no endpoint \(http.path.prefix(200))")
            case .methodNotAllowed(let allowed): throw .methodNotAllowed(allowed)
            case .found(let entry, let parameters):
                route = "\(entry.method) \(entry.pattern)"
                var keyID: Int64?
                if entry.access == .apiKey {
                    let key = try await context.apiKeys.authenticate(http.header("authorization"))
                    guard key.scope.allows(method: http.method) else {
                        throw .forbidden("this API key is read-only (--scope read): it may only GET")
                    }
                    keyID = key.id
                }
                response = try await entry.endpoint.handle(EndpointRequest(http: http, parameters: parameters, apiKeyID: keyID), context)
            }
        } catch {
            response = error.response
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        context.metrics.record(route: route, status: response.status, seconds: seconds)
        return response
    }
}
