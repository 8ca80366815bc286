import Foundation
import Queue
import Support

/// The jobs page's filters (state, kind, queue, created since), read from a query or a form,
/// and written back into links and the bulk forms, so a bulk action acts on what the page shows.
struct JobFilter: Sendable {
    var state: JobState?
    var kind: String?
    var queue: String?
    /// As typed: ISO-8601 or a time ago (`1h`, `7d`).
    var sinceText: String?
    var since: Date?

    init(_ request: ConsoleRequest) throws(ConsoleError) {
        if let s = request.value("state") {
            guard let state = JobState(rawValue: s) else { throw .badRequest("unknown state \(s.prefix(40))") }
            self.state = state
        }
        kind = request.value("kind").map { String($0.prefix(128)) }
        queue = request.value("queue").map { String($0.prefix(128)) }
        if let text = request.value("since") {
            sinceText = String(text.prefix(40))
            if let date = Timestamp.parse(text) {
                since = date
            } else if let seconds = DurationText.parse(text.hasPrefix("-") ? String(text.dropFirst()) : text), seconds >= 0 {
                since = Date().addingTimeInterval(-seconds)
            } else {
                throw .badRequest("since takes ISO-8601 (2026-12-01T00:00:00Z) or a time ago (1h, 30m, 7d)")
            }
        }
    }

    var isEmpty: Bool { state == nil && kind == nil && queue == nil && since == nil }

    var fields: [(String, String)] {
        [("state", state?.rawValue), ("kind", kind), ("queue", queue), ("since", sinceText)].compactMap { k, v in v.map { (k, $0) } }
    }

    /// `?state=discarded&kind=…` (empty without filters), plus `extra`.
    func query(_ extra: [(String, String)] = []) -> String {
        let all = fields + extra
        return all.isEmpty ? "" : "?" + all.map { $0.0 + "=" + HTML.queryValue($0.1) }.joined(separator: "&")
    }
}
