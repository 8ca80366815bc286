import Foundation
import HTTPServer
import Queue
import Support

/// `GET /jobs/{id}`: one job: its facts, args, result, each attempt's error, its timeline and
/// the worker that holds or held it, with retry and cancel.
struct JobPage: ConsoleRoute {
    static let method = "GET"
    static let path = "/jobs/{id}"

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        let session = request.operatorSession
        let id = try JobIDs.parse(request.parameters["id"])
        guard let job = try await context.read({ try JobStore.job(id: id, on: $0) }) else { throw ConsoleError.notFound("no job \(id)") }
        var actions: HTML = ""
        if [.discarded, .cancelled, .retryable, .scheduled].contains(job.state) {
            actions += Layout.button("Retry now", action: "/jobs/\(id)/retry", session: session, fields: [("back", "/jobs/\(id)")])
        }
        if !job.state.isFinished {
            actions += Layout.button("Cancel", action: "/jobs/\(id)/cancel", session: session, fields: [("back", "/jobs/\(id)")], danger: true)
        }
        let facts: [(String, HTML)] = [
            ("state", Layout.state(job.state.rawValue)), ("kind", "\(job.kind)"),
            ("queue", "<a href=\"/jobs?queue=\(HTML.queryValue(job.queue))\">\(job.queue)</a>"),
            ("attempt", "\(job.attempt) of \(job.maxAttempts)"), ("priority", "\(job.priority)"),
            ("unique key", "\(job.uniqueKey ?? "–")"), ("worker", "\(job.lockedBy ?? "–")"),
            ("lease expires", "\(Layout.time(job.leaseExpiresAt))"),
        ]
        var timeline: [(Date?, String)] = [(job.createdAt, "created"), (job.runAt, job.state.isFinished ? "last due" : "due")]
        if let at = job.attemptedAt { timeline.append((at, "attempt \(job.attempt) started")) }
        for e in job.errors { timeline.append((Timestamp.parse(e.at), "attempt \(e.attempt) failed")) }
        if let at = job.finishedAt { timeline.append((at, job.state.rawValue)) }
        // By time; at the same instant, in the order the job lives them (the list's order).
        timeline = timeline.enumerated().sorted { a, b in
            let (x, y) = (a.element.0 ?? .distantPast, b.element.0 ?? .distantPast)
            return x == y ? a.offset < b.offset : x < y
        }.map(\.element)
        let errors = job.errors.map { e -> [HTML] in ["\(e.attempt)", "\(e.at)", "<pre>\(e.message)</pre>"] }
        let body: HTML = """
            <p>\(actions)</p>
            <dl class="facts">\(facts.map { f -> HTML in "<dt>\(f.0)</dt><dd>\(f.1)</dd>" })</dl>
            <h2>Args</h2>\(Layout.json(job.args))
            <h2>Result</h2>\(Layout.json(job.result))
            <h2>Errors</h2>\(Layout.table(["attempt", "at", "message"], errors, empty: "No attempt failed."))
            <h2>Timeline</h2>\(Layout.table(["at", "what"], timeline.map { t -> [HTML] in ["\(Layout.time(t.0))", "\(t.1)"] }))
            """
        return .html(200, Layout.page("Job \(id)", session: session, current: "/jobs", notice: request.value("notice"), body))
    }
}
