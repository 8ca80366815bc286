import Enqueue
import Foundation
import Postgres
import Support

struct APIKeyCreateCommand: Command {
    static let name = "apikey create"
    static let summary = "Make an API key for an app; it is printed once and stored only hashed"
    static let usage = "NAME"
    static let details = """
        Prints the key alone on its own line (with --json: {"id", "name", "key", ...}). Keep it:
        it cannot be shown again. Apps send it as `Authorization: Bearer <key>`.
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let name = try args.expect(["NAME"], command: self.name)[0]
        guard !name.isEmpty, name.count <= 200 else { throw CommandError.usage("NAME must be 1 to 200 characters") }
        let key = APIKey.generate()
        let connection = try context.connect()
        guard let row = try connection.query(IngressQueries.createAPIKey, [name, APIKey.hash(key), APIKey.displayPrefix(key)]).first else {
            throw CommandError.failure("the key was not stored")
        }
        let id = try row.int64("id")
        if context.json {
            context.print(json: ["id": .int(id), "name": .string(name), "key": .string(key), "prefix": .string(APIKey.displayPrefix(key))])
        } else {
            Output.error("API key \(id) (\(name)) created; it is shown once, on the next line:")
            context.print(key)
        }
        return 0
    }
}

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
                 "created_at": .string(Timestamp.iso8601(try r.date("created_at"))),
                 "revoked_at": .optional(try r.optDate("revoked_at").map(Timestamp.iso8601))]
            }))
            return 0
        }
        var table = Table(["id", "name", "prefix", "created", "revoked"])
        for r in rows {
            table.add([String(try r.int64("id")), try r.string("name"), try r.string("key_prefix") + "…",
                       Show.time(try r.date("created_at")), Show.time(try r.optDate("revoked_at"))])
        }
        context.print(table.render())
        return 0
    }
}

struct APIKeyRevokeCommand: Command {
    static let name = "apikey revoke"
    static let summary = "Revoke an API key (the ingress refuses it within TALLY_APIKEY_REFRESH, 5 s)"
    static let usage = "ID"

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let text = try args.expect(["ID"], command: name)[0]
        guard let id = Int64(text), id > 0 else { throw CommandError.usage("ID is a positive integer (tally apikey list shows them), got \"\(text)\"") }
        guard let row = try context.connect().query(IngressQueries.revokeAPIKey, [id]).first else {
            throw CommandError.failure("no API key \(id)")
        }
        let changed = try row.bool("changed")
        if context.json {
            context.print(json: ["id": .int(id), "revoked": true, "already_revoked": .bool(!changed)])
        } else {
            context.print(changed ? "revoked API key \(id) (\(try row.string("name")))" : "API key \(id) was already revoked")
        }
        return 0
    }
}
