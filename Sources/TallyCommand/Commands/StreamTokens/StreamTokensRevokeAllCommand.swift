import Enqueue
import Foundation
import Postgres
import Support

struct StreamTokensRevokeAllCommand: Command {
    static let name = "stream-tokens revoke-all"
    static let summary = "Revoke every stream token at once (a new signing key; apps mint new tokens)"
    static let usage = ""
    static let audited = true
    static let details = """
        Makes a new stream-token key generation: tokens signed with the old one are refused
        (401) by every ingress once it reloads its keys (TALLY_APIKEY_REFRESH, 5 s), and open
        streams using them are closed then too. For a leaked token or a rotation.
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let secret = Crypto.randomHex(32)
        let row = try context.connect().transaction { tx in
            guard let row = try tx.query(IngressQueries.revokeAllStreamTokens, [secret]).first else {
                throw CommandError.failure("no new key was stored")
            }
            try context.audit(target: "stream-tokens", details: ["generation": .int(try row.int64("generation"))], on: tx)
            return row
        }
        let generation = try row.int64("generation")
        if context.json {
            context.print(json: ["generation": .int(generation), "created_at": .string(Timestamp.iso8601(try row.date("created_at")))])
        } else {
            context.print("stream tokens revoked: key generation \(generation) signs from now on")
        }
        return 0
    }
}
