import HTTPServer

/// `POST /queues/{name}/resume`: the pause action, the other way.
struct QueueResumeAction: ConsoleRoute {
    static let method = "POST"
    static let path = "/queues/{name}/resume"

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        try await QueuePauseAction(paused: false).handle(request, context)
    }
}
