import HTTPServer
import Queue
import Support

/// `POST /jobs/{id}/cancel`: cancels one unfinished job (`JobStore.cancel`, by the operator),
/// audited as jobs.cancel.
struct JobCancelAction: ConsoleRoute {
    static let method = "POST"
    static let path = "/jobs/{id}/cancel"

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        let id = try JobIDs.parse(request.parameters["id"])
        let actor = request.operatorSession.name
        let cancelled = try await context.act(request, action: "jobs.cancel", target: "jobs:\(id)") { tx in
            let was = try JobStore.cancel([id], by: actor, on: tx)
            return (!was.isEmpty, ["requested": 1, "cancelled": .array(was.keys.sorted().map { .int($0) })])
        }
        let back = Layout.back(request.form["back"], fallback: "/jobs/\(id)")
        return .seeOther(Layout.withNotice(back, cancelled ? "Job \(id) cancelled." : "Job \(id) was already finished."))
    }
}
