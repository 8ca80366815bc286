import HTTPServer

/// `POST /endpoints/{id}/enable`.
struct EndpointEnableAction: ConsoleRoute {
    static let method = "POST"
    static let path = "/endpoints/{id}/enable"

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        try await EndpointToggleAction(enable: true).handle(request, context)
    }
}
