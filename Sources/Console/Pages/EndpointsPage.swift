import Foundation
import HTTPServer
import Jobs

/// `GET /endpoints`: notification endpoints and their health (failing since, last success,
/// deliveries pending), with enable and disable.
struct EndpointsPage: ConsoleRoute {
    static let method = "GET"
    static let path = "/endpoints"

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        let session = request.operatorSession
        let rows = try await context.read { c in
            try c.query(NotifyQueries.listEndpoints).map { row -> [HTML] in
                let id = try row.int64("id"), enabled = try row.bool("enabled")
                let failing = try row.optDate("failing_since")
                let health: HTML = !enabled ? Layout.state("disabled") : failing == nil ? Layout.state("completed") : Layout.state("discarded")
                let toggle = enabled
                    ? Layout.button("Disable", action: "/endpoints/\(id)/disable", session: session, danger: true)
                    : Layout.button("Enable", action: "/endpoints/\(id)/enable", session: session)
                return ["\(id)", "<code>\(try row.string("url"))</code>", health, "\(failing.map { Layout.time($0) } ?? "–")",
                        "\(Layout.time(try row.optDate("last_success_at")))", "\(try row.int64("pending"))",
                        "\(try row.optString("disabled_reason") ?? "")", toggle]
            }
        }
        let body = Layout.table(["id", "url", "health", "failing since", "last success", "pending", "reason", ""], rows,
                                empty: "No endpoints (tally endpoints add URL registers one).")
        return .html(200, Layout.page("Endpoints", session: session, current: "/endpoints", notice: request.value("notice"), body))
    }
}
