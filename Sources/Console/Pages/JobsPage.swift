import Foundation
import HTTPServer
import Queue
import Support

/// `GET /jobs?state=&kind=&queue=&since=&before=`: jobs newest first, 50 a page, keyset paging
/// (`before` = the last id shown: no OFFSET, so page 1,000 costs what page 1 does), retry and
/// cancel on each row, and bulk retry and cancel of everything the filter matches.
struct JobsPage: ConsoleRoute {
    static let method = "GET"
    static let path = "/jobs"
    static let pageSize = 50

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        let session = request.operatorSession
        let filter = try JobFilter(request)
        let before = try request.value("before").map { b throws(ConsoleError) -> Int64 in
            guard let id = Int64(b), id > 0 else { throw ConsoleError.badRequest("before is a job id") }
            return id
        }
        let jobs = try await context.read { c in
            try JobStore.list(state: filter.state, kind: filter.kind, queue: filter.queue, since: filter.since, before: before,
                              limit: Self.pageSize, on: c)
        }
        let here = "/jobs" + filter.query(before.map { [("before", String($0))] } ?? [])
        let rows = jobs.map { job -> [HTML] in
            var actions: HTML = ""
            if [.discarded, .cancelled, .retryable, .scheduled].contains(job.state) {
                actions += Layout.button("Retry", action: "/jobs/\(job.id)/retry", session: session, fields: [("back", here)])
            }
            if !job.state.isFinished {
                actions += Layout.button("Cancel", action: "/jobs/\(job.id)/cancel", session: session, fields: [("back", here)], danger: true)
            }
            let error = job.errors.last.map { String($0.message.prefix(120)) } ?? ""
            return ["<a href=\"/jobs/\(job.id)\">\(job.id)</a>", Layout.state(job.state.rawValue), "\(job.kind)", "\(job.queue)",
                    "\(job.attempt)/\(job.maxAttempts)", "\(Layout.time(job.createdAt))",
                    "\(Layout.time(job.finishedAt ?? job.runAt))", "\(error)", actions]
        }
        let states = JobState.allCases.map { s -> HTML in
            "<option\(filter.state == s ? HTML(raw: " selected") : "")>\(s.rawValue)</option>"
        }
        var body: HTML = """
            <form method="get" action="/jobs" class="filters">
            <label>State<select name="state"><option value="">any</option>\(states)</select></label>
            <label>Kind<input name="kind" value="\(filter.kind)" placeholder="stripe.event"></label>
            <label>Queue<input name="queue" value="\(filter.queue)" placeholder="default"></label>
            <label>Created since<input name="since" value="\(filter.sinceText)" placeholder="1h or 2026-12-01T00:00:00Z"></label>
            <button type="submit">Filter</button> <a href="/jobs">clear</a></form>
            """
        if !filter.isEmpty {
            let hidden = filter.fields + [("back", here)]
            body += """
                <div class="bulk">For every job this filter matches (up to \(BulkJobsAction.limit)):
                \(Layout.button("Retry all", action: "/jobs/bulk", session: session, fields: hidden + [("action", "retry")]))
                \(Layout.button("Cancel all", action: "/jobs/bulk", session: session, fields: hidden + [("action", "cancel")], danger: true))</div>
                """
        }
        body += Layout.table(["id", "state", "kind", "queue", "attempt", "created", "finished / runs", "last error", ""], rows,
                             empty: "No jobs match.")
        if jobs.count == Self.pageSize, let last = jobs.last {
            body += "<p class=\"pager\"><a rel=\"next\" href=\"/jobs\(filter.query([("before", String(last.id))]))\">Older jobs →</a></p>"
        }
        return .html(200, Layout.page("Jobs", session: session, current: "/jobs", notice: request.value("notice"), body))
    }
}
