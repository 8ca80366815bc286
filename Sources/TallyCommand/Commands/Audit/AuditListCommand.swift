import Foundation
import Postgres
import Queue
import Support

struct AuditListCommand: Command {
    static let name = "audit list"
    static let summary = "What operators did: every audited command and console action, newest first"
    static let usage = "[--since T] [--actor A] [--limit N]"
    static let options: Set<String> = ["since", "actor", "limit"]
    static let details = """
        One row per operator action (grant, debit, purchases confirm, jobs retry and cancel,
        queues pause and resume, apikey and endpoint changes, agents, products, rewards and
        referrals set or created): when, who, what (the command), on what, why, and the details.

        Options:
          --since T   only actions at or after T: ISO-8601 (2026-12-01T00:00:00Z) or a time ago (24h, 7d)
          --actor A   only actions by A
          --limit N   at most N rows (default 100, at most 10000)
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let since = try Arguments.since(args.option("since"))
        let limit = try args.int("limit", range: 1...10_000) ?? 100
        let entries = try Audit.list(since: since, actor: args.option("actor"), limit: limit, on: try context.connect())
        if context.json {
            context.print(json: ["entries": .array(entries.map(\.json))])
            return 0
        }
        guard !entries.isEmpty else {
            context.print("No audited actions\(since == nil && args.option("actor") == nil ? "" : " match").")
            return 0
        }
        var table = Table(["id", "at", "actor", "action", "target", "reason"])
        for e in entries {
            table.add([String(e.id), Show.time(e.at), e.actor, e.action, e.target ?? "", e.reason ?? ""])
        }
        context.print(table.render())
        return 0
    }
}
