import Foundation
import HTTPServer
import Queue

/// `GET /workers`: worker processes that heart-beat in the last minute, with what they run.
struct WorkersPage: ConsoleRoute {
    static let method = "GET"
    static let path = "/workers"

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        let workers = try await context.read { try JobStore.workers(aliveWithin: .seconds(60), on: $0) }
        let now = Date()
        let rows = workers.map { w -> [HTML] in
            ["\(w.id)", "\(w.host)", "\(w.pid)", "\(w.queues.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))",
             "\(w.running)", "\(Layout.time(w.startedAt))", "\(Layout.age(now.timeIntervalSince(w.heartbeatAt))) ago"]
        }
        let body = Layout.table(["worker", "host", "pid", "queues", "running", "started", "heartbeat"], rows,
                                empty: "No worker heart-beat in the last minute.")
        return .html(200, Layout.page("Workers", session: request.operatorSession, current: "/workers", body))
    }
}
