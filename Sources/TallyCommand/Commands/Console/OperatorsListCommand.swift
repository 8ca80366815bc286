import Console
import Foundation
import Support

struct OperatorsListCommand: Command {
    static let name = "operators list"
    static let summary = "List console operators: token prefix, last sign-in, sessions, revoked"
    static let usage = ""

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let operators = try Operators.list(on: try context.connect())
        if context.json {
            context.print(json: ["operators": .array(operators.map { o in
                ["id": .int(o.id), "name": .string(o.name), "token_prefix": .string(o.tokenPrefix),
                 "created_at": .string(Timestamp.iso8601(o.createdAt)), "last_sign_in_at": .optional(o.lastSignInAt.map(Timestamp.iso8601)),
                 "revoked_at": .optional(o.revokedAt.map(Timestamp.iso8601)), "sessions": .int(o.sessions)]
            })])
            return 0
        }
        var table = Table(["id", "name", "token", "created", "last_sign_in", "sessions", "status"])
        for o in operators {
            table.add([String(o.id), o.name, o.tokenPrefix + "…", Show.time(o.createdAt), Show.time(o.lastSignInAt), String(o.sessions),
                       o.revokedAt == nil ? "live" : "revoked " + Show.time(o.revokedAt)])
        }
        context.print(operators.isEmpty ? "No operators. `tally operators create NAME` makes one." : table.render())
        return 0
    }
}
