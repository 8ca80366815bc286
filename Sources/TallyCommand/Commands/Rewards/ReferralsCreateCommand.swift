import Foundation
import Jobs
import Support

struct ReferralsCreateCommand: Command {
    static let name = "referrals create"
    static let summary = "Create a referral code owned by a user"
    static let usage = "USER [--code CODE] [--max-uses N]"
    static let audited = true
    static let options: Set<String> = ["code", "max-uses"]
    static let details = """
        Prints the new code alone on its own (last) line. A user who signs up with it (account.open's
        referral_code) and pays earns its owner and themselves TALLY_REFERRAL_CREDITS (10) each,
        once; a code gives at most N rewards (default TALLY_REFERRAL_MAX_USES, 100).

        Options:
          --code CODE   the code to use (4 to 64 letters, digits, _ or -; kept in capitals);
                        default: 8 random characters
          --max-uses N  the most rewards this code gives
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let user = try args.expect(["USER"], command: name)[0]
        let maxUses = try args.int("max-uses", range: 0...1_000_000_000) ?? context.environment.int("TALLY_REFERRAL_MAX_USES", default: 100)
        let connection = try context.connect()
        let code: Referrals.Code
        do {
            code = try connection.transaction { tx in
                let code = try Referrals.create(userID: user, code: args.option("code"), maxUses: maxUses, on: tx)
                try context.audit(target: "user:\(user)", details: ["code": .string(code.code), "max_uses": .int(code.maxUses)], on: tx)
                return code
            }
        } catch let error as Referrals.CreateError {
            if case .invalid = error { throw CommandError.usage(error.description) }
            throw CommandError.failure(error.description)
        }
        if context.json {
            context.print(json: ["code": .string(code.code), "user_id": .string(code.userID), "max_uses": .int(code.maxUses),
                                 "uses": .int(code.uses), "created_at": .string(Timestamp.iso8601(code.createdAt))])
        } else {
            context.print("referral code for \(code.userID), at most \(code.maxUses) rewards:")
            context.print(code.code)
        }
        return 0
    }
}
