import Foundation
import Postgres
import Queue
import Support

struct WorkersCommand: Command {
    static let name = "workers"
    static let summary = "The workers alive now: id, host, started, queues, running jobs, last heartbeat"
    static let usage = ""

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let connection = try context.connect()
        // Alive: heart-beat within three renewal intervals of the default lease.
        let rows = try JobStore.workers(aliveWithin: .seconds(60), on: connection)
        var list: [JSON] = []
        var table = Table(["id", "host", "pid", "started", "queues", "running", "heartbeat"])
        for row in rows {
            let queues = JSON.object(row.queues.mapValues { JSON.int($0) })
            let qtext = row.queues.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            let started = row.startedAt, beat = row.heartbeatAt
            list.append(["id": .string(row.id), "label": .string(row.label), "host": .string(row.host),
                         "pid": .int(row.pid), "queues": queues, "started_at": .string(Timestamp.iso8601(started)),
                         "heartbeat_at": .string(Timestamp.iso8601(beat)), "running": .int(row.running)])
            table.add([row.id, row.host, String(row.pid), Show.age(started), qtext, String(row.running), Show.age(beat)])
        }
        if context.json { context.print(json: ["workers": .array(list)]) } else { context.print(rows.isEmpty ? "No workers alive." : table.render()) }
        return 0
    }
}
