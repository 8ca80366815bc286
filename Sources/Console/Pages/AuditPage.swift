import HTTPServer
import Queue
import Support

/// `GET /audit?actor=&since=`: the audit log, newest first (the last 200 matching).
struct AuditPage: ConsoleRoute {
    static let method = "GET"
    static let path = "/audit"

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        let actor = request.value("actor").map { String($0.prefix(256)) }
        let entries = try await context.read { try Audit.list(since: nil, actor: actor, limit: 200, on: $0) }
        let rows = entries.map { e -> [HTML] in
            ["\(Layout.time(e.at))", "<a href=\"/audit?actor=\(HTML.queryValue(e.actor))\">\(e.actor)</a>", "\(e.action)", "\(e.target ?? "")",
             "\(e.reason ?? "")", "<code>\(e.details.serialized)</code>"]
        }
        let body: HTML = """
            <form method="get" action="/audit" class="filters"><label>Actor<input name="actor" value="\(actor)"></label>
            <button type="submit">Filter</button> <a href="/audit">clear</a></form>
            \(Layout.table(["at", "actor", "action", "target", "reason", "details"], rows, empty: "No audited actions."))
            """
        return .html(200, Layout.page("Audit log", session: request.operatorSession, current: "/audit", body))
    }
}
