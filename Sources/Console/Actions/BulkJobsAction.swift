import HTTPServer
import Queue
import Support

/// `POST /jobs/bulk {action: retry|cancel, state, kind, queue, since}`: retries or cancels up
/// to `limit` jobs the jobs page's filter matches, in one transaction with its audit row.
struct BulkJobsAction: ConsoleRoute {
    static let method = "POST"
    static let path = "/jobs/bulk"
    static let limit = 1000

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        let filter = try JobFilter(request)
        guard !filter.isEmpty else { throw ConsoleError.badRequest("a bulk action needs a filter (it acts on what the filter shows)") }
        let action = request.form["action"] ?? ""
        guard action == "retry" || action == "cancel" else { throw ConsoleError.badRequest("action is retry or cancel") }
        let actor = request.operatorSession.name
        let details: JSON = .object(Dictionary(uniqueKeysWithValues: filter.fields.map { ($0.0, JSON.string($0.1)) }))
        let target = "jobs:" + (filter.fields.map { "\($0.0)=\($0.1)" }.joined(separator: ","))
        let (matched, done) = try await context.act(request, action: "jobs.\(action)", target: target) { tx in
            let ids = try JobStore.jobIDs(state: filter.state, kind: filter.kind, queue: filter.queue, since: filter.since,
                                          limit: Self.limit, on: tx)
            let done = action == "retry" ? try JobStore.retry(ids, on: tx) : Set(try JobStore.cancel(ids, by: actor, on: tx).keys)
            var all = details.object ?? [:]
            all["requested"] = .int(Int64(ids.count))
            all[action == "retry" ? "retried" : "cancelled"] = .array(done.sorted().map { .int($0) })
            return ((ids.count, done.count), .object(all))
        }
        let verb = action == "retry" ? "retried" : "cancelled"
        let back = Layout.back(request.form["back"], fallback: "/jobs" + filter.query())
        return .seeOther(Layout.withNotice(back, "\(done) of \(matched) matching job(s) \(verb)."))
    }
}
