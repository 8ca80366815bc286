import Foundation
import Jobs
import Postgres

struct RewardsSetCommand: Command {
    static let name = "rewards set"
    static let summary = "Create or change a reward rule (credits per action, daily cap per user)"
    static let usage = "ACTION CREDITS --daily-cap N [--off]"
    static let audited = true
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
        let credits = try Arguments.credits(words[1], "CREDITS", minimum: 0)
        var cap: Int64?
        if let text = args.option("daily-cap") {
            cap = try Arguments.credits(text, "--daily-cap", minimum: 0)
        }
        let connection = try context.connect()
        let exists = try connection.query(RewardsQueries.listRules).contains { (try? $0.string("action")) == action }
        if !exists && cap == nil { throw CommandError.usage("--daily-cap is required for a new rule (tally rewards set --help)") }
        let row = try connection.transaction { tx in
            guard let row = try tx.query(RewardsQueries.setRule, [action, credits, cap, !args.flag("off")]).first else {
                throw CommandError.failure("the rule was not stored")
            }
            try context.audit(target: "reward:\(action)", details: ["credits": .int(credits), "daily_cap": .optional(cap),
                                                                   "enabled": .bool(!args.flag("off"))], on: tx)
            return row
        }
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
