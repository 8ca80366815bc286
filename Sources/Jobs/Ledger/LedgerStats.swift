import Foundation
import Postgres
import Support

/// Credits at a glance (DESIGN.md, "Credit statistics"): what the wallet's operators check
/// first. Exact integers throughout; the average balance is rounded down, and says so.
public struct LedgerStats: Sendable, Equatable {
    public let accounts: Int64
    /// Spendable credits of every grant (unexpired remainders), by grant source.
    public let outstandingBySource: [String: Int64]
    public let debt: Int64
    /// Credits reserved by holds.
    public let held: Int64
    public let since: Date
    /// Ledger entries since `since`, by kind: how many and their credits (signed).
    public let entriesByKind: [String: (count: Int64, credits: Int64)]

    public var outstanding: Int64 { outstandingBySource.values.reduce(0, +) }

    /// (outstanding − debt) ÷ accounts, rounded down (towards −∞); 0 without accounts.
    public var averageBalance: Int64 {
        guard accounts > 0 else { return 0 }
        let total = outstanding - debt
        let (q, r) = total.quotientAndRemainder(dividingBy: accounts)
        return r < 0 ? q - 1 : q
    }

    public static func == (a: LedgerStats, b: LedgerStats) -> Bool {
        a.accounts == b.accounts && a.outstandingBySource == b.outstandingBySource && a.debt == b.debt && a.held == b.held
            && a.since == b.since && a.entriesByKind.mapValues { [$0.count, $0.credits] } == b.entriesByKind.mapValues { [$0.count, $0.credits] }
    }

    /// Reads them in one statement (one snapshot).
    public static func read(since: Date, on c: Connection) throws -> LedgerStats {
        var accounts: Int64 = 0, debt: Int64 = 0, held: Int64 = 0
        var bySource: [String: Int64] = [:]
        var byKind: [String: (count: Int64, credits: Int64)] = [:]
        for row in try c.query(LedgerQueries.stats, [since]) {
            switch try row.string("part") {
            case "accounts":
                accounts = try row.int64("n")
                debt = try row.int64("credits")
            case "held":
                held = try row.int64("credits")
            case "outstanding":
                bySource[try row.string("key")] = try row.int64("credits")
            default:
                byKind[try row.string("key")] = (try row.int64("n"), try row.int64("credits"))
            }
        }
        return LedgerStats(accounts: accounts, outstandingBySource: bySource, debt: debt, held: held, since: since, entriesByKind: byKind)
    }

    public var json: JSON {
        ["accounts": .int(accounts), "outstanding": .int(outstanding), "outstanding_by_source": .object(outstandingBySource.mapValues { .int($0) }),
         "average_balance": .int(averageBalance), "average_balance_rounded": "down", "debt": .int(debt), "held": .int(held),
         "since": .string(Timestamp.iso8601(since)),
         "entries": .object(entriesByKind.mapValues { ["count": .int($0.count), "credits": .int($0.credits)] })]
    }
}
