import Foundation
import Postgres
import Queue
import Support

/// `queues pause` and `queues resume`.
enum QueuePause {
    @MainActor static func set(_ paused: Bool, _ args: Arguments, _ context: CommandContext, command: String) throws -> Int32 {
        let queue = try args.expect(["QUEUE"], command: command)[0]
        guard !queue.isEmpty, queue.utf8.count <= 128 else { throw CommandError.usage("a queue name is 1 to 128 bytes") }
        let connection = try context.connect()
        try connection.transaction { tx in
            try JobStore.setPaused(queue: queue, paused: paused, on: tx)
            try context.audit(target: "queue:\(queue)", on: tx)
        }
        if context.json {
            context.print(json: ["queue": .string(queue), "paused": .bool(paused)])
        } else {
            context.print(paused ? "paused queue \(queue): workers claim none of its jobs until `tally queues resume \(queue)`"
                                 : "resumed queue \(queue)")
        }
        return 0
    }
}
