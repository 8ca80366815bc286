import Dispatch
import Foundation
import HTTPServer
import Postgres
import Queue
import Support
import Synchronization

/// The ingress's settings, from the environment (docs/ingress.md lists them).
public struct IngressConfig: Sendable {
    public var server = ServerConfig()
    public var databaseURL: String
    /// `TALLY_READ_DATABASE_URL`: a streaming replica the GET endpoints read from (nil: the
    /// primary). `Prefer: wait` answers and everything that writes stay on the primary.
    public var readDatabaseURL: String?
    /// The LISTEN connection (`TALLY_LISTEN_DATABASE_URL`, else `databaseURL` unless pooled;
    /// nil: none, waiting requests and streams poll; see `SessionLimits.listenURL`).
    public var listenURL: String?
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
    /// `TALLY_METRICS_TOKEN`: `/metrics` also answers a bearer of it (loopback clients always).
    public var metricsToken: String?
    /// `TALLY_DB_STATEMENT_TIMEOUT` and the other limits of every database session.
    public var sessionLimits = SessionLimits.defaults
    /// `TALLY_CORS_ORIGINS`: the origins (`https://app.example.com`) whose pages may open
    /// `/v1/stream`; nothing else of the API answers CORS.
    public var corsOrigins: Set<String> = []
    /// `TALLY_STREAMS_PER_USER` and the fan-out's limits.
    public var stream = StreamHub.Settings()

    public init(databaseURL: String) {
        self.databaseURL = databaseURL
        self.listenURL = databaseURL
    }

    /// `TALLY_INGRESS_DATABASE_URL`, else `DATABASE_URL`; the rest as docs/ingress.md says.
    public static func from(_ env: Environment) throws -> IngressConfig {
        guard let url = env["TALLY_INGRESS_DATABASE_URL"] ?? env["DATABASE_URL"] else {
            throw ConfigurationError(setting: "DATABASE_URL", purpose: "the ingress")
        }
        var c = IngressConfig(databaseURL: url)
        try c.server.setListen(env["TALLY_LISTEN"] ?? "127.0.0.1:8080", setting: "TALLY_LISTEN")
        c.server.threads = try positive(env, "TALLY_INGRESS_THREADS", c.server.threads)
        c.server.maxConnections = try positive(env, "TALLY_MAX_CONNECTIONS", c.server.maxConnections)
        c.server.maxConnectionsPerClient = try positive(env, "TALLY_MAX_CONNECTIONS_PER_CLIENT", c.server.maxConnectionsPerClient)
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
        c.metricsToken = env["TALLY_METRICS_TOKEN"]
        c.sessionLimits = try SessionLimits(environment: env)
        c.listenURL = c.sessionLimits.listenURL(databaseURL: url, environment: env)
        c.readDatabaseURL = env["TALLY_READ_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        c.corsOrigins = try corsOrigins(env["TALLY_CORS_ORIGINS"])
        c.stream = try StreamHub.Settings(env)
        return c
    }

    /// `https://app.example.com,http://localhost:3000`: each a scheme, a host and maybe a port,
    /// no path (an Origin header has none), compared exactly; `*` is refused (a token in the URL
    /// of any site's page is exactly what CORS should not allow).
    static func corsOrigins(_ text: String?) throws -> Set<String> {
        guard let text, !text.isEmpty else { return [] }
        var out: Set<String> = []
        for part in text.split(separator: ",") {
            let origin = part.trimmingCharacters(in: .whitespaces)
            guard let url = URL(string: origin), url.scheme == "http" || url.scheme == "https", url.host != nil,
                  url.path.isEmpty, url.query == nil, !origin.hasSuffix("/") else {
                throw ConfigurationError(setting: "TALLY_CORS_ORIGINS", invalid: origin,
                                         expected: "comma-separated origins such as https://app.example.com (scheme, host, optional port; no path, no *)")
            }
            out.insert(origin)
        }
        return out
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
