import HTTPServer
import Queue
import Support

/// `POST /jobs/{id}/retry`: runs one job again now (`JobStore.retry`), audited as jobs.retry.
struct JobRetryAction: ConsoleRoute {
    static let method = "POST"
    static let path = "/jobs/{id}/retry"

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        let id = try JobIDs.parse(request.parameters["id"])
        let retried = try await context.act(request, action: "jobs.retry", target: "jobs:\(id)") { tx in
            let retried = try JobStore.retry([id], on: tx)
            return (!retried.isEmpty, ["requested": 1, "retried": .array(retried.sorted().map { .int($0) })])
        }
        let back = Layout.back(request.form["back"], fallback: "/jobs/\(id)")
        return .seeOther(Layout.withNotice(back, retried ? "Job \(id) will run again now." : "Job \(id) was not retried (running or completed)."))
    }
}
