import HTTPServer

/// `GET /console.css`: the stylesheet (open: the sign-in page uses it too).
struct StylesheetRoute: ConsoleRoute {
    static let method = "GET"
    static let path = "/console.css"
    static let signedIn = false

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        HTTPResponse(status: 200, headers: [HTTPHeader(name: "Content-Type", value: "text/css; charset=utf-8"),
                                            HTTPHeader(name: "Cache-Control", value: "max-age=300")], body: Array(Assets.stylesheet.utf8))
    }
}
