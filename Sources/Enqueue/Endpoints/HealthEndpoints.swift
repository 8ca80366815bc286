import HTTPServer
import Postgres
import Support

/// `GET /healthz`: the process is up and serving (no database check: a liveness probe must not
/// restart the ingress because PostgreSQL is away).
struct HealthEndpoint: Endpoint {
    static let method = "GET"
    static let path = "/healthz"
    static let access = Access.open

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        .json(200, ["status": "ok"])
    }
}

/// `GET /readyz`: PostgreSQL answers, so requests can be made durable; 503 otherwise.
struct ReadyEndpoint: Endpoint {
    static let method = "GET"
    static let path = "/readyz"
    static let access = Access.open

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        _ = try await context.read { c in try c.query(IngressQueries.ping) }
        return .json(200, ["status": "ready"])
    }
}

/// `GET /metrics`: Prometheus text: the ingress's own counters, then the workers' (read from
/// `worker_counters`; left out while the database is unreachable, so a scrape still answers).
/// For loopback clients (a scraper beside the ingress), or a bearer of `TALLY_METRICS_TOKEN`;
/// anyone else gets 403 (the figures tell an attacker how busy and how big the wallet is).
struct MetricsEndpoint: Endpoint {
    static let method = "GET"
    static let path = "/metrics"
    static let access = Access.open

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        guard MetricsAccess.allows(peer: request.http.peer, authorization: request.header("authorization"), token: context.metricsToken) else {
            throw .forbidden("/metrics answers loopback clients, or a bearer of TALLY_METRICS_TOKEN")
        }
        let workers = try? await context.read { c in try Metrics.readWorkerCounters(on: c) }
        let ledger = await context.ledgerStats.current(context)
        return .text(200, context.metrics.render() + Metrics.renderWorkerCounters(workers) + Metrics.renderLedgerStats(ledger),
                     contentType: "text/plain; version=0.0.4; charset=utf-8")
    }
}
