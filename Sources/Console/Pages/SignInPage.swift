import HTTPServer
import Support

/// `GET /sign-in`: the form for an operator's token. Before a session exists, the form's CSRF
/// token is a random value also set as a short-lived cookie (double submit): a page on another
/// site can neither read the cookie nor, with SameSite=Strict, send it.
struct SignInPage: ConsoleRoute {
    static let method = "GET"
    static let path = "/sign-in"
    static let signedIn = false
    static let cookie = "tally_console_signin"

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        Self.form(status: 200, next: request.value("next"), message: nil, context: context)
    }

    static func form(status: Int, next: String?, message: String?, context: ConsoleContext) -> HTTPResponse {
        let token = Crypto.randomHex(32)
        let notice: HTML = message.map { "<p class=\"notice error\" role=\"alert\">\($0)</p>" } ?? ""
        let body: HTML = """
            \(notice)<form method="post" action="/sign-in" class="signin">
            <input type="hidden" name="csrf" value="\(token)"><input type="hidden" name="next" value="\(Layout.back(next, fallback: "/"))">
            <label for="token">Operator token (from <code>tally operators create NAME</code>)</label>
            <input id="token" name="token" type="password" autocomplete="off" required autofocus>
            <button type="submit">Sign in</button></form>
            """
        return .html(status, Layout.page("Sign in", session: nil, body),
                     headers: [HTTPResponse.cookie(cookie, token, maxAge: 3600, secure: context.config.secureCookies)])
    }
}
