import Enqueue
import Foundation
import Postgres
import Support

struct APIKeyRevokeCommand: Command {
    static let name = "apikey revoke"
    static let summary = "Revoke an API key (the ingress refuses it within TALLY_APIKEY_REFRESH, 5 s)"
    static let usage = "ID"
    static let audited = true

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let text = try args.expect(["ID"], command: name)[0]
        guard let id = Int64(text), id > 0 else { throw CommandError.usage("ID is a positive integer (tally apikey list shows them), got \"\(text)\"") }
        let (row, changed) = try context.connect().transaction { tx in
            guard let row = try tx.query(IngressQueries.revokeAPIKey, [id]).first else {
                throw CommandError.failure("no API key \(id)")
            }
            let changed = try row.bool("changed")
            if changed { try context.audit(target: "apikey:\(id)", details: ["name": .string(try row.string("name"))], on: tx) }
            return (row, changed)
        }
        if context.json {
            context.print(json: ["id": .int(id), "revoked": true, "already_revoked": .bool(!changed)])
        } else {
            context.print(changed ? "revoked API key \(id) (\(try row.string("name")))" : "API key \(id) was already revoked")
        }
        return 0
    }
}
