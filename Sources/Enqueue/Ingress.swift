import Dispatch
import Foundation
import Postgres
import Queue
import Support
import Synchronization

/// The ingress's settings, from the environment (docs/ingress.md lists them).
public struct IngressConfig: Sendable {
    public var server = ServerConfig()
    public var databaseURL: String
    /// Connections for enqueue batches and reads; also the number of batches in flight.
    public var poolSize = 4
    /// Enqueue transactions in flight at once (at most `poolSize`).
    public var flushes = 2
    public var maxBatch = 256
    /// At most one `NOTIFY tally_jobs` per queue per this window (plus one trailing).
    public var notifyWindow: TimeInterval = 0.001
    public var apiKeyRefresh: TimeInterval = 5
    public var rateLimit: Double = 0
    public var rateBurst: Double = 0
    public var stripeSecrets: [String] = []
    public var bitgoSecrets: [String] = []

    public init(databaseURL: String) { self.databaseURL = databaseURL }

    /// `TALLY_INGRESS_DATABASE_URL`, else `DATABASE_URL`; the rest as docs/ingress.md says.
    public static func from(_ env: Environment) throws -> IngressConfig {
        guard let url = env["TALLY_INGRESS_DATABASE_URL"] ?? env["DATABASE_URL"] else {
            throw ConfigurationError(setting: "DATABASE_URL", purpose: "the ingress")
        }
        var c = IngressConfig(databaseURL: url)
        try c.server.setListen(env["TALLY_LISTEN"] ?? "127.0.0.1:8080")
        c.server.threads = try positive(env, "TALLY_INGRESS_THREADS", c.server.threads)
        c.server.maxConnections = try positive(env, "TALLY_MAX_CONNECTIONS", c.server.maxConnections)
        c.server.requestTimeout = try seconds(env, "TALLY_REQUEST_TIMEOUT", c.server.requestTimeout)
        c.server.idleTimeout = try seconds(env, "TALLY_IDLE_TIMEOUT", c.server.idleTimeout)
        c.poolSize = try positive(env, "TALLY_INGRESS_DB_POOL", c.poolSize)
        c.maxBatch = try positive(env, "TALLY_INGRESS_BATCH", c.maxBatch)
        c.flushes = min(c.poolSize, try positive(env, "TALLY_INGRESS_FLUSHES", c.flushes))
        c.apiKeyRefresh = try seconds(env, "TALLY_APIKEY_REFRESH", c.apiKeyRefresh)
        c.notifyWindow = try seconds(env, "TALLY_INGRESS_NOTIFY_WINDOW", c.notifyWindow)
        if let text = env["TALLY_RATE_LIMIT"] {
            guard let rate = Double(text), rate >= 0, rate.isFinite else {
                throw ConfigurationError(setting: "TALLY_RATE_LIMIT", purpose: "requests per second per API key (0 or unset: off), got \"\(text)\"")
            }
            c.rateLimit = rate
        }
        c.rateBurst = c.rateLimit
        if let text = env["TALLY_RATE_BURST"] {
            guard let burst = Double(text), burst >= 1, burst.isFinite else {
                throw ConfigurationError(setting: "TALLY_RATE_BURST", purpose: "the bucket size, at least 1, got \"\(text)\"")
            }
            c.rateBurst = burst
        }
        c.stripeSecrets = WebhookSignature.secrets(env["STRIPE_WEBHOOK_SECRET"])
        c.bitgoSecrets = WebhookSignature.secrets(env["BITGO_WEBHOOK_SECRET"])
        return c
    }

    private static func positive(_ env: Environment, _ name: String, _ value: Int) throws -> Int {
        guard let text = env[name] else { return value }
        guard let n = Int(text), n > 0 else { throw ConfigurationError(setting: name, purpose: "a whole number above 0, got \"\(text)\"") }
        return n
    }

    private static func seconds(_ env: Environment, _ name: String, _ value: TimeInterval) throws -> TimeInterval {
        guard let text = env[name] else { return value }
        guard let s = DurationText.parse(text) ?? Double(text), s > 0 else {
            throw ConfigurationError(setting: name, purpose: "a duration such as 10s, 500ms or 2m, got \"\(text)\"")
        }
        return s
    }
}

/// `tally ingress`: the HTTP server, the enqueue batcher and the shared LISTEN connection for
/// waiting requests. Minimal by design: verify, validate, enqueue, answer.
public final class Ingress: Service {
    public var name: String { "ingress" }
    public let config: IngressConfig
    public let context: IngressContext
    public let router: Router
    private let server: HTTPServer
    private let listener: Listener
    private let stopped = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let stopRequested = Atomic<Bool>(false)

    public init(config: IngressConfig, endpoints: [any Endpoint] = Routes.all) throws {
        self.config = config
        let metrics = Metrics()
        let pool = ConnectionPool(url: config.databaseURL, maxConnections: config.poolSize, applicationName: "tally-ingress")
        // The window is configurable: a commit that NOTIFYs holds PostgreSQL's notify lock
        // through its WAL flush, so commits that notify never group.
        let enqueuer = Enqueuer(pool: pool, debounceWindowNanos: UInt64(config.notifyWindow * 1e9))
        let waiters = JobWaiters()
        let context = IngressContext(
            pool: pool,
            batcher: EnqueueBatcher(pool: pool, enqueuer: enqueuer, metrics: metrics, maxBatch: config.maxBatch, maxConcurrent: config.flushes),
            waiters: waiters,
            apiKeys: APIKeyCache(pool: pool, refresh: config.apiKeyRefresh),
            rateLimiter: RateLimiter(rate: config.rateLimit, burst: config.rateBurst),
            metrics: metrics, stripeSecrets: config.stripeSecrets, bitgoSecrets: config.bitgoSecrets)
        self.context = context
        let router = Router(endpoints)
        self.router = router
        listener = Listener(url: config.databaseURL, channels: [Channels.jobFinished],
                            onConnect: { waiters.wakeAll() }, onNotification: { waiters.notified($0.payload) })
        server = try HTTPServer(config: config.server, handler: { request in
            await Ingress.respond(to: request, router: router, context: context)
        }, refused: { status in
            metrics.record(route: "unparsed", status: status, seconds: 0)
        })
        metrics.gauge("tally_ingress_open_connections") { [server] in server.connectionCount }
        metrics.gauge("tally_ingress_waiting_requests") { waiters.count }
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
        listener.start()
        server.start()
        Log.info("ingress listening", ["address": "\(config.server.host):\(server.port)", "threads": config.server.threads,
                                       "db_pool": config.poolSize, "rate_limit": config.rateLimit > 0 ? "\(config.rateLimit)/s" : "off"])
        for route in unavailableRoutes { Log.warn("route unavailable, answering 503", ["route": route]) }
    }

    public func stop() {
        server.stop(grace: 10)
        listener.stop()
        context.pool.close()
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
                if entry.access == .apiKey { keyID = try await context.apiKeys.authenticate(http.header("authorization")) }
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
