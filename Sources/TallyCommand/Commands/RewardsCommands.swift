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

struct RewardsSetCommand: Command {
    static let name = "rewards set"
    static let summary = "Create or change a reward rule (credits per action, daily cap per user)"
    static let usage = "ACTION CREDITS --daily-cap N [--off]"
    static let options: Set<String> = ["daily-cap"]
    static let flags: Set<String> = ["off"]
    static let details = """
        Each ACTION (as apps send it to POST /v1/activity) earns CREDITS, at most N credits per
        user per UTC day; an action that would cross the cap earns up to it. Without --off the
        rule is on; with --off actions are refused and record nothing. CREDITS 0 records the
        activity (it counts for streaks) without paying. --daily-cap may be left out when
        changing an existing rule.

        Examples:
          tally rewards set post_like 1 --daily-cap 5
          tally rewards set ad_view 1 --daily-cap 5 --off
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let words = try args.expect(["ACTION", "CREDITS"], command: name)
        let action = words[0]
        guard RewardRule.validAction(action) else {
            throw CommandError.usage("ACTION is 1 to 64 lowercase letters, digits, _ . or -, starting with a letter (got \"\(action)\")")
        }
        guard let credits = Int64(words[1]), credits >= 0 else {
            throw CommandError.usage("CREDITS must be a whole number of credits, 0 or more (got \"\(words[1])\")")
        }
        var cap: Int64?
        if let text = args.option("daily-cap") {
            guard let n = Int64(text), n >= 0 else { throw CommandError.usage("--daily-cap must be a whole number, 0 or more (got \"\(text)\")") }
            cap = n
        }
        let connection = try context.connect()
        let exists = try connection.query(RewardsQueries.listRules).contains { (try? $0.string("action")) == action }
        if !exists && cap == nil { throw CommandError.usage("--daily-cap is required for a new rule (tally rewards set --help)") }
        let row = try connection.query(RewardsQueries.setRule, [action, credits, cap, !args.flag("off")]).first!
        let rule = RewardRule(action: try row.string("action"), credits: try row.int64("credits"), dailyCap: try row.int64("daily_cap"),
                              enabled: try row.bool("enabled"))
        if context.json {
            context.print(json: rule.json)
        } else {
            context.print("\(rule.action): \(rule.credits) credits per action, at most \(rule.dailyCap) a day per user, \(rule.enabled ? "on" : "off")")
        }
        return 0
    }
}

struct ReferralsCreateCommand: Command {
    static let name = "referrals create"
    static let summary = "Create a referral code owned by a user"
    static let usage = "USER [--code CODE] [--max-uses N]"
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
            code = try Referrals.create(userID: user, code: args.option("code"), maxUses: maxUses, on: connection)
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
