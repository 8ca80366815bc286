import HTTPServer
import Queue

/// `GET /queues`: every queue, paused or not, its unfinished jobs, pause and resume.
struct QueuesPage: ConsoleRoute {
    static let method = "GET"
    static let path = "/queues"

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        let session = request.operatorSession
        let queues = try await context.read { try JobStore.queues(including: [], on: $0) }
        let rows = queues.map { q -> [HTML] in
            let toggle = q.paused
                ? Layout.button("Resume", action: "/queues/\(HTML.queryValue(q.name))/resume", session: session)
                : Layout.button("Pause", action: "/queues/\(HTML.queryValue(q.name))/pause", session: session, danger: true)
            return ["<a href=\"/jobs?queue=\(HTML.queryValue(q.name))\">\(q.name)</a>", q.paused ? "paused" : "running",
                    "\(q.available)", "\(q.running)", "\(q.waiting)", toggle]
        }
        let body = Layout.table(["queue", "status", "available", "running", "scheduled or retryable", ""], rows, empty: "No queues yet.")
        return .html(200, Layout.page("Queues", session: session, current: "/queues", notice: request.value("notice"), body))
    }
}
