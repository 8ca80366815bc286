import Foundation
import HTTPServer
import Postgres
import Queue
import Support
import Synchronization

/// `GET /events`: Server-Sent Events for the overview's live counts (`counts`, the same names
/// as its `data-live` cells), every `interval` seconds while the page is open. One read of the
/// queue's stats per event per open page: operators are few.
struct EventsRoute: ConsoleRoute {
    static let method = "GET"
    static let path = "/events"
    static let interval: Duration = .seconds(2)

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        let pool = context.pool
        let pump = Pump()
        let handler = StreamHandler(maxBufferedBytes: 256 << 10, opened: { stream in
            pump.task.withLock { $0 = Task { await Self.pump(stream, pool: pool) } }
        }, closed: { _ in
            pump.task.withLock { $0?.cancel() }
        })
        return HTTPResponse(status: 200, headers: [HTTPHeader(name: "Content-Type", value: "text/event-stream"),
                                                   HTTPHeader(name: "Cache-Control", value: "no-store")] + HTTPResponse.consoleHeaders.dropFirst(),
                            body: Array("retry: 5000\n\n".utf8), stream: handler)
    }

    /// The stream's refresh task, cancelled when the page goes away.
    final class Pump: Sendable {
        let task = Mutex<Task<Void, Never>?>(nil)
    }

    static func pump(_ stream: ServerStream, pool: ConnectionPool) async {
        while !Task.isCancelled && !stream.isClosed {
            if let counts = try? await pool.withConnection({ c in
                OverviewData.liveCounts(try JobStore.stats(on: c), workers: try JobStore.workers(aliveWithin: .seconds(60), on: c).count)
            }) {
                let json = JSON.object(counts.mapValues { .int($0) }).serialized
                stream.send(Array("event: counts\ndata: \(json)\n\n".utf8))
            }
            try? await Task.sleep(for: interval)  // the refresh period of the live counts
        }
    }
}
