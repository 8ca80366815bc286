import Foundation
import Jobs

struct EndpointsEnableCommand: Command {
    static let name = "endpoints enable"
    static let summary = "Enable an endpoint (also one disabled after a day of failures)"
    static let usage = "ID"
    static let audited = true
    static let details = """
        Deliveries discarded while it was disabled are not resent by this; to send them:
          tally jobs retry --state discarded --kind notify.deliver
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try EndpointChange.run(args, context, command: name, query: NotifyQueries.enableEndpoint, params: [], done: "enabled")
    }
}
