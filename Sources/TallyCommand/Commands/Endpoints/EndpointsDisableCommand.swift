import Foundation
import Jobs

struct EndpointsDisableCommand: Command {
    static let name = "endpoints disable"
    static let summary = "Disable an endpoint: new notifications are not delivered to it"
    static let usage = "ID"
    static let audited = true

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try EndpointChange.run(args, context, command: name, query: NotifyQueries.disableEndpoint, params: ["disabled by an operator"], done: "disabled")
    }
}
