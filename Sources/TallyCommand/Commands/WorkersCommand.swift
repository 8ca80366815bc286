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
        let rows = try connection.query(AdminQueries.workers, [60])
        var list: [JSON] = []
        var table = Table(["id", "host", "pid", "started", "queues", "running", "heartbeat"])
        for row in rows {
            let queues = try row.json("queues")
            let qtext = (queues.object ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.serialized)" }.joined(separator: ",")
            let started = try row.date("started_at"), beat = try row.date("heartbeat_at")
            list.append(["id": .string(try row.string("id")), "label": .string(try row.string("label")), "host": .string(try row.string("host")),
                         "pid": .int(try row.int64("pid")), "queues": queues, "started_at": .string(Timestamp.iso8601(started)),
                         "heartbeat_at": .string(Timestamp.iso8601(beat)), "running": .int(try row.int64("running"))])
            table.add([try row.string("id"), try row.string("host"), String(try row.int64("pid")), Show.age(started), qtext,
                       String(try row.int64("running")), Show.age(beat)])
        }
        if context.json { context.print(json: ["workers": .array(list)]) } else { context.print(rows.isEmpty ? "No workers alive." : table.render()) }
        return 0
    }
}
