import Foundation
import Jobs
import Postgres
import Support

struct RewardsListCommand: Command {
    static let name = "rewards list"
    static let summary = "List reward rules: credits per action, daily cap, on or off"
    static let usage = ""

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let connection = try context.connect()
        var list: [JSON] = []
        var table = Table(["action", "credits", "daily_cap", "status", "updated"])
        for row in try connection.query(RewardsQueries.listRules) {
            let action = try row.string("action"), credits = try row.int64("credits"), cap = try row.int64("daily_cap")
            let enabled = try row.bool("enabled"), updated = try row.date("updated_at")
            list.append(["action": .string(action), "credits": .int(credits), "daily_cap": .int(cap), "enabled": .bool(enabled),
                         "updated_at": .string(Timestamp.iso8601(updated))])
            table.add([action, String(credits), String(cap), enabled ? "on" : "off", Show.time(updated)])
        }
        if context.json { context.print(json: ["rewards": .array(list)]) } else { context.print(table.render()) }
        return 0
    }
}
