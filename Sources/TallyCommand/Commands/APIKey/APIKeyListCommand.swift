import Enqueue
import Foundation
import Postgres
import Support

struct APIKeyListCommand: Command {
    static let name = "apikey list"
    static let summary = "List API keys (their prefixes, never the keys)"
    static let usage = ""

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let rows = try context.connect().query(IngressQueries.listAPIKeys)
        if context.json {
            context.print(json: .array(try rows.map { r in
                ["id": .int(try r.int64("id")), "name": .string(try r.string("name")), "prefix": .string(try r.string("key_prefix")),
                 "scope": .string(try r.string("scope")),
                 "created_at": .string(Timestamp.iso8601(try r.date("created_at"))),
                 "revoked_at": .optional(try r.optDate("revoked_at").map(Timestamp.iso8601))]
            }))
            return 0
        }
        var table = Table(["id", "name", "prefix", "scope", "created", "revoked"])
        for r in rows {
            table.add([String(try r.int64("id")), try r.string("name"), try r.string("key_prefix") + "…", try r.string("scope"),
                       Show.time(try r.date("created_at")), Show.time(try r.optDate("revoked_at"))])
        }
        context.print(table.render())
        return 0
    }
}
