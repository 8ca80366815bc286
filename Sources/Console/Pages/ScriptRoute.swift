import HTTPServer

/// `GET /console.js`: the few lines that keep the overview's counts live (signed in only).
struct ScriptRoute: ConsoleRoute {
    static let method = "GET"
    static let path = "/console.js"

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        HTTPResponse(status: 200, headers: [HTTPHeader(name: "Content-Type", value: "text/javascript; charset=utf-8"),
                                            HTTPHeader(name: "Cache-Control", value: "max-age=300")], body: Array(Assets.script.utf8))
    }
}
