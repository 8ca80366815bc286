import Foundation
import Postgres
import Queue
import Support
import Worker

struct QueuesListCommand: Command {
    static let name = "queues list"
    static let summary = "List queues: paused or running, jobs available, running and waiting"
    static let usage = ""

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let connection = try context.connect()
        let rows = try JobStore.queues(including: Array(WorkerConfig.defaultQueues.keys), on: connection)
        var list: [JSON] = []
        var table = Table(["queue", "status", "available", "running", "waiting"])
        for row in rows {
            let name = row.name, paused = row.paused
            let available = row.available, running = row.running, waiting = row.waiting
            list.append(["name": .string(name), "paused": .bool(paused), "available": .int(available), "running": .int(running), "waiting": .int(waiting)])
            table.add([name, paused ? "paused" : "running", String(available), String(running), String(waiting)])
        }
        if context.json { context.print(json: ["queues": .array(list)]) } else { context.print(table.render()) }
        return 0
    }
}
