import Foundation
import Jobs
import Postgres
import Support

struct AgentsSetCommand: Command {
    static let name = "agents set"
    static let summary = "Set an agent's price in credits per unit (creates the agent)"
    static let usage = "NAME CREDITS_PER_UNIT"
    static let audited = true

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let words = try args.expect(["NAME", "CREDITS_PER_UNIT"], command: name)
        guard words[0].utf8.count <= 128, !words[0].isEmpty else { throw CommandError.usage("NAME must be 1 to 128 characters") }
        let price = try Arguments.credits(words[1], "CREDITS_PER_UNIT", minimum: 0)
        do {
            let row = try context.connect().transaction { tx in
                guard let row = try tx.query(LedgerQueries.setAgent, [words[0], price]).first else { throw CommandError.failure("the agent was not stored") }
                try context.audit(target: "agent:\(words[0])", details: ["credits_per_unit": .int(price)], on: tx)
                return row
            }
            if context.json {
                context.print(json: ["name": .string(try row.string("name")), "credits_per_unit": .int(try row.int64("credits_per_unit"))])
            } else {
                context.print("agent \(words[0]) costs \(price) credit(s) per unit")
            }
        } catch let error as PostgresError where error.sqlState == "23514" {
            throw CommandError.usage("NAME may use letters, digits, _ . : - (starting with a letter or digit)")
        }
        return 0
    }
}
