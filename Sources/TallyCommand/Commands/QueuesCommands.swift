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
        let rows = try connection.query(AdminQueries.queues, [Array(WorkerConfig.defaultQueues.keys)])
        var list: [JSON] = []
        var table = Table(["queue", "status", "available", "running", "waiting"])
        for row in rows {
            let name = try row.string("name"), paused = try row.bool("paused")
            let available = try row.int64("available"), running = try row.int64("running"), waiting = try row.int64("waiting")
            list.append(["name": .string(name), "paused": .bool(paused), "available": .int(available), "running": .int(running), "waiting": .int(waiting)])
            table.add([name, paused ? "paused" : "running", String(available), String(running), String(waiting)])
        }
        if context.json { context.print(json: ["queues": .array(list)]) } else { context.print(table.render()) }
        return 0
    }
}

struct QueuesPauseCommand: Command {
    static let name = "queues pause"
    static let summary = "Pause a queue: no worker claims its jobs until it is resumed"
    static let usage = "QUEUE"

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try setPaused(true, args, context, command: name)
    }
}

struct QueuesResumeCommand: Command {
    static let name = "queues resume"
    static let summary = "Resume a paused queue"
    static let usage = "QUEUE"

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try setPaused(false, args, context, command: name)
    }
}

@MainActor private func setPaused(_ paused: Bool, _ args: Arguments, _ context: CommandContext, command: String) throws -> Int32 {
    let queue = try args.expect(["QUEUE"], command: command)[0]
    guard !queue.isEmpty, queue.utf8.count <= 128 else { throw CommandError.usage("a queue name is 1 to 128 bytes") }
    let connection = try context.connect()
    try connection.query(AdminQueries.setPaused, [queue, paused])
    if context.json {
        context.print(json: ["queue": .string(queue), "paused": .bool(paused)])
    } else {
        context.print(paused ? "paused queue \(queue): workers claim none of its jobs until `tally queues resume \(queue)`"
                             : "resumed queue \(queue)")
    }
    return 0
}

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
