import Console
import Foundation
import Support

struct OperatorsRevokeCommand: Command {
    static let name = "operators revoke"
    static let summary = "Revoke a console operator's token and end their sessions at once"
    static let usage = "NAME"
    static let audited = true

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let name = try args.expect(["NAME"], command: self.name)[0]
        let connection = try context.connect()
        let revoked = try connection.transaction { tx in
            guard let revoked = try Operators.revoke(name: name, on: tx) else {
                throw CommandError.failure("no live operator \(name) (tally operators list shows them)")
            }
            try context.audit(target: "operator:\(revoked.id)", details: ["name": .string(name), "sessions_ended": .int(revoked.sessions)], on: tx)
            return revoked
        }
        if context.json {
            context.print(json: ["id": .int(revoked.id), "name": .string(name), "sessions_ended": .int(revoked.sessions)])
        } else {
            context.print("revoked operator \(name); \(revoked.sessions) session(s) ended")
        }
        return 0
    }
}
