import HTTPServer
import Queue
import Support

/// `POST /sign-in {csrf, token, next}`: a session cookie for a live operator's token, audited;
/// a wrong token gets the form again (401) and no session.
struct SignInAction: ConsoleRoute {
    static let method = "POST"
    static let path = "/sign-in"
    static let signedIn = false

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        try Console.checkCSRF(request, expected: request.cookies[SignInPage.cookie] ?? "")
        let token = request.form["token"] ?? ""
        let ttl = context.config.sessionTTL
        let signedIn = try await context.pool.transaction { tx -> (cookie: String, session: OperatorSession)? in
            guard let s = try Operators.signIn(token: token, ttl: ttl, on: tx) else { return nil }
            try Audit.record(actor: s.session.name, action: "operators.sign_in", target: "operator:\(s.session.operatorID)",
                             details: ["via": "console"], on: tx)
            return s
        }
        guard let signedIn else {
            Log.warn("console sign-in refused: unknown or revoked token", ["peer": request.http.peer?.text ?? "?"])
            return SignInPage.form(status: 401, next: request.value("next"), message: "Unknown or revoked token.", context: context)
        }
        let secure = context.config.secureCookies
        return .seeOther(Layout.back(request.value("next"), fallback: "/"), headers: [
            HTTPResponse.cookie(SignInPage.cookie, "", maxAge: 0, secure: secure),
            HTTPResponse.cookie(Console.sessionCookie, signedIn.cookie, maxAge: Int(ttl), secure: secure),
        ])
    }
}
