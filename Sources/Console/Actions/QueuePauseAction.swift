import HTTPServer
import Queue

/// `POST /queues/{name}/pause` and `/resume`: `JobStore.setPaused` (workers are told at once),
/// audited as queues.pause / queues.resume, as `tally queues pause` does.
struct QueuePauseAction: ConsoleRoute {
    static let method = "POST"
    static let path = "/queues/{name}/pause"
    var paused = true

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        let queue = request.parameters["name"] ?? ""
        guard !queue.isEmpty, queue.utf8.count <= 128 else { throw ConsoleError.badRequest("a queue name is 1 to 128 bytes") }
        let paused = self.paused
        try await context.act(request, action: paused ? "queues.pause" : "queues.resume", target: "queue:\(queue)") { tx in
            try JobStore.setPaused(queue: queue, paused: paused, on: tx)
            return ((), [:])
        }
        return .seeOther(Layout.withNotice("/queues", paused ? "Paused queue \(queue): workers claim none of its jobs until resumed." : "Resumed queue \(queue)."))
    }
}
