import HTTPServer
import Jobs
import Support

/// `GET /accounts?user=U`: one account by user id: balance, debt, held credits, its spendable
/// grants, open holds, subscription, latest ledger entries and notifications (the API's own reads).
struct AccountsPage: ConsoleRoute {
    static let method = "GET"
    static let path = "/accounts"

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        let user = request.value("user").map { String($0.prefix(256)) }
        var body: HTML = """
            <form method="get" action="/accounts" class="filters"><label>User id<input name="user" value="\(user)" required></label>
            <button type="submit">Show</button></form>
            """
        if let user {
            let found = try await context.read { c -> (JSON, [Hold], JSON, JSON)? in
                guard let account = try LedgerReads.account(user, on: c) else { return nil }
                return (account, try Hold.open(userID: user, on: c), try LedgerReads.ledger(user, limit: 50, on: c) ?? [:],
                        try Inbox.list(userID: user, limit: 20, on: c) ?? [:])
            }
            if let (account, holds, ledger, inbox) = found {
                body += Self.render(account, holds, ledger, inbox)
            } else {
                body += "<p class=\"empty\">No account for user \(user).</p>"
            }
        }
        return .html(200, Layout.page("Accounts", session: request.operatorSession, current: "/accounts", body))
    }

    static func render(_ account: JSON, _ holds: [Hold], _ ledger: JSON, _ inbox: JSON) -> HTML {
        func n(_ v: JSON?) -> String { v?.numberText ?? "–" }
        let sub = account["subscription"]
        let subscription = sub.map { $0.isNull } ?? true ? "none"
            : "\(sub?["status"]?.string ?? "?"), period ends \(sub?["current_period_end"]?.string ?? "–")\(sub?["cancel_at_period_end"]?.bool == true ? ", cancels then" : "")"
        let grants = (account["grants"]?.array ?? []).map { g -> [HTML] in
            ["\(n(g["id"]))", "\(g["source"]?.string)", "\(n(g["amount"]))", "\(n(g["remaining"]))", "\(g["expires_at"]?.string ?? "never")"]
        }
        let open = holds.map { h -> [HTML] in
            ["<code>\(h.id)</code>", "\(h.reserved)", "\(h.agent ?? "–")", "\(Layout.time(h.createdAt))", "\(Layout.time(h.expiresAt))"]
        }
        let entries = (ledger["entries"]?.array ?? []).map { e -> [HTML] in
            let meta = e["metadata"]
            return ["\(n(e["id"]))", "\(n(e["amount"]))", "\(n(e["balance_after"]))", "\(e["kind"]?.string)", "\(e["reference"]?.string)",
                    "\(e["created_at"]?.string)", "\(meta?["actor"]?.string ?? "")", "\(meta?["reason"]?.string ?? meta?["note"]?.string ?? "")"]
        }
        let notes = (inbox["notifications"]?.array ?? []).map { e -> [HTML] in
            ["\(n(e["seq"]))", "\(e["type"]?.string)", "<code>\(e["payload"]?.serialized ?? "")</code>", "\(e["created_at"]?.string)",
             "\(e["read_at"]?.string ?? "unread")"]
        }
        return """
            <div class="cards">
            <div class="card"><b>\(n(account["balance"]))</b><span>balance (spendable)</span></div>
            <div class="card"><b>\(n(account["held"]))</b><span>held by open holds</span></div>
            <div class="card"><b>\(n(account["debt"]))</b><span>debt</span></div>
            <div class="card"><b>\(subscription)</b><span>subscription</span></div></div>
            <h2>Spendable grants</h2>\(Layout.table(["grant", "source", "amount", "remaining", "expires"], grants, empty: "No spendable grants."))
            <h2>Open holds</h2>\(Layout.table(["hold", "reserved", "agent", "created", "expires"], open, empty: "No open holds."))
            <h2>Latest ledger entries</h2>\(Layout.table(["entry", "amount", "balance after", "kind", "reference", "created", "actor", "reason"], entries,
                                                          empty: "No entries."))
            <h2>Notifications</h2>\(Layout.table(["seq", "type", "payload", "created", "read"], notes, empty: "No notifications."))
            """
    }
}
