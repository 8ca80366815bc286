import Foundation
import HTTPServer
import Jobs
import Queue
import Support

/// `GET /`: queues × states, the last hour's throughput per minute, the oldest waiting job per
/// queue, the failure rate, workers alive, paused queues, and credits at a glance. Counts
/// marked `data-live` refresh from `/events` where JavaScript runs.
struct OverviewPage: ConsoleRoute {
    static let method = "GET"
    static let path = "/"

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        let data = try await context.read { try OverviewData.read(on: $0) }
        let live = OverviewData.liveCounts(data.stats, workers: data.workers)
        func cell(_ name: String) -> HTML { "<span data-live=\"\(name)\">\(live[name] ?? 0)</span>" }
        let paused = data.queues.filter(\.paused).map(\.name)
        let completed = live["completed_hour"] ?? 0, failed = live["failed_hour"] ?? 0
        let cards: HTML = """
            <div class="cards">
            <div class="card"><b>\(cell("workers"))</b><span>workers alive</span></div>
            <div class="card"><b>\(cell("completed_hour"))</b><span>jobs completed, last hour</span></div>
            <div class="card"><b>\(cell("failed_hour"))</b><span>failed attempts, last hour</span></div>
            <div class="card"><b>\(Self.rate(failed: failed, completed: completed))</b><span>failure rate, last hour</span></div>
            <div class="card"><b>\(paused.count)</b><span>paused queues\(paused.isEmpty ? "" : ": " + paused.joined(separator: ", "))</span></div>
            </div>
            """
        let states: [JobState] = [.scheduled, .available, .running, .retryable]
        let rows = data.queueNames.map { q -> [HTML] in
            let s = data.stats[q] ?? QueueStats()
            let isPaused = paused.contains(q)
            return ["<a href=\"/jobs?queue=\(HTML.queryValue(q))\">\(q)</a>\(isPaused ? HTML(raw: " <span class=\"state retryable\">paused</span>") : "")"]
                + states.map { st -> HTML in "<a href=\"/jobs?queue=\(HTML.queryValue(q))&amp;state=\(st.rawValue)\">\(cell("\(q):\(st.rawValue)"))</a>" }
                + [cell("\(q):completed_hour"), cell("\(q):failed_hour"), "\(s.failedHour + s.completedHour > 0 ? Self.rate(failed: s.failedHour, completed: s.completedHour) : "–")",
                   "\(Layout.age(s.oldestAge))"]
        }
        let body: HTML = """
            \(cards)
            <h2>Throughput, jobs finished per minute (last hour)</h2>
            <p class="legend"><span><i class="c"></i>completed</span><span><i class="d"></i>discarded or cancelled</span></p>
            \(ThroughputChart.svg(data.throughput))
            <h2>Queues</h2>
            \(Layout.table(["queue", "scheduled", "available", "running", "retryable", "completed 1h", "failed 1h", "failure rate", "oldest waiting"], rows,
                           empty: "No queue has jobs."))
            <h2>Credits at a glance</h2>
            \(Self.credits(data.day, data.week))
            """
        return .html(200, Layout.page("Overview", session: request.operatorSession, current: "/", script: true, body))
    }

    /// failed ÷ (failed + completed) as a percentage with one decimal, in integers.
    static func rate(failed: Int64, completed: Int64) -> String {
        let total = failed + completed
        guard total > 0 else { return "0%" }
        let tenths = failed * 1000 / total
        return "\(tenths / 10).\(tenths % 10)%"
    }

    static func credits(_ day: LedgerStats, _ week: LedgerStats) -> HTML {
        let sources = day.outstandingBySource.sorted { $0.key < $1.key }.map { s -> HTML in "<div class=\"card\"><b>\(s.value)</b><span>outstanding from \(s.key)</span></div>" }
        let kinds = Set(day.entriesByKind.keys).union(week.entriesByKind.keys).sorted().map { k -> [HTML] in
            let d = day.entriesByKind[k], w = week.entriesByKind[k]
            return ["\(k)", "\(d?.count ?? 0)", "\(d?.credits ?? 0)", "\(w?.count ?? 0)", "\(w?.credits ?? 0)"]
        }
        return """
            <div class="cards">
            <div class="card"><b>\(day.accounts)</b><span>accounts</span></div>
            <div class="card"><b>\(day.outstanding)</b><span>credits outstanding</span></div>
            <div class="card"><b>\(day.averageBalance)</b><span>average balance (rounded down)</span></div>
            <div class="card"><b>\(day.debt)</b><span>debt</span></div>
            <div class="card"><b>\(day.held)</b><span>held</span></div>
            \(sources)</div>
            <h2>Ledger entries by kind</h2>
            \(Layout.table(["kind", "last day", "credits", "last week", "credits"], kinds, empty: "No ledger entries this week."))
            """
    }
}
