import Foundation
import Jobs
import Postgres
import Support

struct AgentsListCommand: Command {
    static let name = "agents list"
    static let summary = "List agent prices (credits per unit of usage)"
    static let usage = ""

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let rows = try context.connect().query(LedgerQueries.listAgents)
        var list: [JSON] = []
        var table = Table(["agent", "credits_per_unit", "updated"])
        for row in rows {
            let agent = try row.string("name"), price = try row.int64("credits_per_unit"), updated = try row.date("updated_at")
            list.append(["name": .string(agent), "credits_per_unit": .int(price), "updated_at": .string(Timestamp.iso8601(updated))])
            table.add([agent, String(price), Show.time(updated)])
        }
        if context.json { context.print(json: ["agents": .array(list)]) } else { context.print(table.render()) }
        return 0
    }
}
