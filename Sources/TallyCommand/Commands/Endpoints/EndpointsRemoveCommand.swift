import Foundation
import Jobs

struct EndpointsRemoveCommand: Command {
    static let name = "endpoints remove"
    static let summary = "Remove an endpoint (its delivery log is kept)"
    static let usage = "ID"
    static let audited = true

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try EndpointChange.run(args, context, command: name, query: NotifyQueries.removeEndpoint, params: [], done: "removed")
    }
}
