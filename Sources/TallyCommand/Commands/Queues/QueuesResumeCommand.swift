import Foundation

struct QueuesResumeCommand: Command {
    static let name = "queues resume"
    static let summary = "Resume a paused queue"
    static let usage = "QUEUE"
    static let audited = true

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try QueuePause.set(false, args, context, command: name)
    }
}
