import Foundation

struct QueuesPauseCommand: Command {
    static let name = "queues pause"
    static let summary = "Pause a queue: no worker claims its jobs until it is resumed"
    static let usage = "QUEUE"
    static let audited = true

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try QueuePause.set(true, args, context, command: name)
    }
}
