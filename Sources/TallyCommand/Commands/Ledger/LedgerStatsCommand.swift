import Foundation
import Jobs
import Support

struct LedgerStatsCommand: Command {
    static let name = "ledger stats"
    static let summary = "Credits at a glance: accounts, credits outstanding, debt, held, entries by kind"
    static let usage = "[--since T]"
    static let options: Set<String> = ["since"]
    static let details = """
        Accounts; credits outstanding (spendable: unexpired remainders of grants), in total and by
        grant source; the average balance (rounded down); total debt; credits held; and the
        ledger entries since T by kind, each with its count and its credits (signed). Exact
        integers. One statement, one snapshot.

        Options:
          --since T   ISO-8601 or a time ago (24h, 7d); default the last 24 hours
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let since = try Arguments.since(args.option("since")) ?? Date().addingTimeInterval(-86_400)
        let stats = try LedgerStats.read(since: since, on: try context.connect())
        if context.json {
            context.print(json: stats.json)
            return 0
        }
        context.print("accounts          \(stats.accounts)")
        context.print("outstanding       \(stats.outstanding) credits")
        for (source, credits) in stats.outstandingBySource.sorted(by: { $0.key < $1.key }) {
            context.print("  \(source.padding(toLength: 16, withPad: " ", startingAt: 0))\(credits)")
        }
        context.print("average balance   \(stats.averageBalance) (rounded down)")
        context.print("debt              \(stats.debt)")
        context.print("held              \(stats.held)")
        context.print("entries since \(Timestamp.iso8601(since)):")
        var table = Table(["kind", "count", "credits"])
        for (kind, e) in stats.entriesByKind.sorted(by: { $0.key < $1.key }) { table.add([kind, String(e.count), String(e.credits)]) }
        context.print(stats.entriesByKind.isEmpty ? "  none" : table.render())
        return 0
    }
}
