import Foundation
import Support

/// The chrome every page shares (title, navigation, the operator, sign-out) and the small
/// pieces pages build from: forms with the CSRF token, tables, times.
enum Layout {
    static let sections: [(path: String, label: String)] = [
        ("/", "Overview"), ("/jobs", "Jobs"), ("/queues", "Queues"), ("/workers", "Workers"), ("/accounts", "Accounts"),
        ("/purchases", "Purchases"), ("/endpoints", "Endpoints"), ("/audit", "Audit"),
    ]

    static func page(_ title: String, session: OperatorSession?, current: String = "", notice: String? = nil, script: Bool = false,
                     _ body: HTML) -> HTML {
        var nav: HTML = ""
        if let session {
            let links = sections.map { s -> HTML in
                "<a href=\"\(s.path)\"\(s.path == current ? HTML(raw: " aria-current=\"page\"") : "")>\(s.label)</a>"
            }
            nav = """
                <nav>\(links)<span class="who">\(session.name) \
                <form method="post" action="/sign-out" class="inline">\(csrf(session))<button>Sign out</button></form></span></nav>
                """
        }
        let flash: HTML = notice.map { "<p class=\"notice\" role=\"status\">\($0)</p>" } ?? ""
        let js: HTML = script ? "<script src=\"/console.js\" defer></script>" : ""
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · Tally console</title><link rel="stylesheet" href="/console.css">\(js)</head>
            <body><header><span class="brand">Tally console</span>\(nav)</header>
            <main><h1>\(title)</h1>\(flash)\(body)</main></body></html>
            """
    }

    /// The hidden field every form of a session carries (checked on every POST).
    static func csrf(_ session: OperatorSession) -> HTML {
        "<input type=\"hidden\" name=\"csrf\" value=\"\(session.csrfToken)\">"
    }

    /// A one-button form posting to `action` (with the CSRF token and `fields` as hidden inputs).
    static func button(_ label: String, action: String, session: OperatorSession, fields: [(String, String)] = [], danger: Bool = false) -> HTML {
        let hidden = fields.map { f -> HTML in "<input type=\"hidden\" name=\"\(f.0)\" value=\"\(f.1)\">" }
        return "<form method=\"post\" action=\"\(action)\" class=\"inline\">\(csrf(session))\(hidden)<button\(danger ? HTML(raw: " class=\"danger\"") : "")>\(label)</button></form>"
    }

    static func table(_ headers: [String], _ rows: [[HTML]], empty: String = "Nothing here.") -> HTML {
        guard !rows.isEmpty else { return "<p class=\"empty\">\(empty)</p>" }
        let head = headers.map { h -> HTML in "<th>\(h)</th>" }
        let body = rows.map { r -> HTML in "<tr>\(r.map { c -> HTML in "<td>\(c)</td>" })</tr>" }
        return "<table><thead><tr>\(head)</tr></thead><tbody>\(body)</tbody></table>"
    }

    static func time(_ date: Date?) -> String {
        guard let date else { return "–" }
        return String(Timestamp.iso8601(date).prefix(19)).replacingOccurrences(of: "T", with: " ") + "Z"
    }

    /// `3s`, `5m`, `2h`, `4d` since (or until) `date`.
    static func age(_ seconds: Double?) -> String {
        guard let seconds else { return "–" }
        let s = Int(seconds.rounded(.down))
        switch abs(s) {
        case ..<120: return "\(s)s"
        case ..<7200: return "\(s / 60)m"
        case ..<172_800: return "\(s / 3600)h"
        default: return "\(s / 86400)d"
        }
    }

    /// A path on this console to go back to after an action: only a local path (never
    /// `//host` or a scheme), else `fallback`.
    static func back(_ value: String?, fallback: String) -> String {
        guard let v = value, v.hasPrefix("/"), !v.hasPrefix("//"), !v.contains("\\"), v.utf8.count <= 2048,
              !v.unicodeScalars.contains(where: { $0.value < 0x20 }) else { return fallback }
        return v
    }

    /// `path` with `notice=text` added to its query: what a page shows after an action (an
    /// earlier notice in `path` is set aside, so they do not pile up).
    static func withNotice(_ path: String, _ text: String) -> String {
        let cleaned = path.replacingOccurrences(of: "&notice=", with: "&_n=").replacingOccurrences(of: "?notice=", with: "?_n=")
        return cleaned + (cleaned.contains("?") ? "&" : "?") + "notice=" + HTML.queryValue(text)
    }

    static func state(_ state: String) -> HTML { "<span class=\"state \(state)\">\(state)</span>" }

    /// JSON for people: indented, escaped by the interpolation it goes through.
    static func json(_ value: JSON?) -> HTML {
        guard let value, !value.isNull else { return "<span class=\"empty\">none</span>" }
        return "<pre>\(pretty(value, indent: ""))</pre>"
    }

    static func pretty(_ value: JSON, indent: String) -> String {
        let inner = indent + "  "
        if let object = value.object, !object.isEmpty {
            return "{\n" + object.keys.sorted().map { inner + JSON.quoted($0) + ": " + pretty(object[$0] ?? .null, indent: inner) }
                .joined(separator: ",\n") + "\n" + indent + "}"
        }
        if let array = value.array, !array.isEmpty {
            return "[\n" + array.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        }
        return value.serialized
    }
}
