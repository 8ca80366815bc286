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
struct MetricsEndpoint: Endpoint {
    static let method = "GET"
    static let path = "/metrics"
    static let access = Access.open

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let workers = try? await context.read { c in try Metrics.readWorkerCounters(on: c) }
        return .text(200, context.metrics.render() + Metrics.renderWorkerCounters(workers),
                     contentType: "text/plain; version=0.0.4; charset=utf-8")
    }
}
