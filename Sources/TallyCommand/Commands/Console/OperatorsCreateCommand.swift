import Console
import Foundation
import Postgres
import Support

struct OperatorsCreateCommand: Command {
    static let name = "operators create"
    static let summary = "Make a console operator; their sign-in token is printed once and stored only hashed"
    static let usage = "NAME"
    static let audited = true
    static let details = """
        Prints the token alone on its own line (with --json: {"id", "name", "token"}). Keep it:
        it cannot be shown again. NAME is what the audit log records for their actions.
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let name = try args.expect(["NAME"], command: self.name)[0]
        if let problem = Operators.problem(name: name) { throw CommandError.usage(problem) }
        let connection = try context.connect()
        let created: (id: Int64, token: String)
        do {
            created = try connection.transaction { tx in
                let created = try Operators.create(name: name, on: tx)
                try context.audit(target: "operator:\(created.id)", details: ["name": .string(name)], on: tx)
                return created
            }
        } catch let error as PostgresError where error.sqlState == "23505" {
            throw CommandError.failure("an operator named \(name) exists already (tally operators revoke \(name) first)")
        }
        if context.json {
            context.print(json: ["id": .int(created.id), "name": .string(name), "token": .string(created.token)])
        } else {
            Output.error("operator \(name) created; the token is shown once, on the next line:")
            context.print(created.token)
        }
        return 0
    }
}
