import HTTPServer

/// One console page or action: a method, a path pattern (`/jobs/{id}`) and what it does.
/// Listed in `ConsoleRoutes.all`. When `handle` runs, a signed-in route has its session, and a
/// signed-in POST has already shown the session's CSRF token (`Console.respond`).
public protocol ConsoleRoute: Sendable {
    static var method: String { get }
    static var path: String { get }
    /// Whether only a signed-in operator may use it (all but sign-in and the stylesheet).
    static var signedIn: Bool { get }

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse
}

extension ConsoleRoute {
    public static var signedIn: Bool { true }
}
