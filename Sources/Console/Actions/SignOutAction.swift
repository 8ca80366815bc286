import HTTPServer

/// `POST /sign-out`: ends this session (the cookie is cleared too).
struct SignOutAction: ConsoleRoute {
    static let method = "POST"
    static let path = "/sign-out"

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        if let cookie = request.cookies[Console.sessionCookie] {
            try await context.read { try Operators.signOut(cookie: cookie, on: $0) }
        }
        return .seeOther("/sign-in", headers: [HTTPResponse.cookie(Console.sessionCookie, "", maxAge: 0, secure: context.config.secureCookies)])
    }
}
