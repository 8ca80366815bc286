import HTTPServer
import Jobs
import Support

/// `GET /purchases`: crypto purchases held for an operator (late: paid after the quote expired;
/// underpaid), newest first, each with a form to confirm it with a note.
struct PurchasesPage: ConsoleRoute {
    static let method = "GET"
    static let path = "/purchases"
    static let awaiting: [PurchaseStatus] = [.late, .underpaid]

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        let session = request.operatorSession
        let purchases = try await context.read { c in
            try Self.awaiting.flatMap { status in
                try c.query(CryptoQueries.list, [status.rawValue, nil as String?, nil as String?, 200]).map(Purchase.init(row:))
            }
        }.sorted { $0.createdAt > $1.createdAt }
        let rows = purchases.map { p -> [HTML] in
            let form: HTML = """
                <form method="post" action="/purchases/\(p.id)/confirm" class="inline">\(Layout.csrf(session))\
                <input name="note" placeholder="why (kept in the audit)" maxlength="500"> <button>Confirm</button></form>
                """
            return ["<code>\(p.id)</code>", "<a href=\"/accounts?user=\(HTML.queryValue(p.userID))\">\(p.userID)</a>", "\(p.product)",
                    "\(p.credits.map(String.init) ?? "–")", "\(p.coin.rawValue)", Layout.state(p.status.rawValue),
                    "\(p.amount?.description ?? "–")", "\(p.received.description)", "\(Layout.time(p.expiresAt))", form]
        }
        let body = Layout.table(["purchase", "user", "product", "credits", "coin", "status", "quoted (base units)", "received", "quote expired", ""],
                                rows, empty: "No purchase awaits an operator.")
        return .html(200, Layout.page("Purchases awaiting an operator", session: session, current: "/purchases",
                                      notice: request.value("notice"), body))
    }
}
