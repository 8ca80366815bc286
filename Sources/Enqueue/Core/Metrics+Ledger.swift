import Foundation
import Jobs
import Postgres
import Support
import Synchronization

/// Credits at a glance as gauges (DESIGN.md, "Credit statistics"): the same figures as `tally
/// ledger stats`, read by one statement and cached for `LedgerStatsCache.ttl`, so a scrape
/// every few seconds costs the database one read every 30 s.
extension Metrics {
    static func renderLedgerStats(_ stats: LedgerStats?) -> String {
        guard let stats else { return "" }
        var out = ""
        func gauge(_ name: String, _ help: String, _ samples: [(labels: String, value: Int64)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for s in samples { out += "\(name)\(s.labels) \(s.value)\n" }
        }
        gauge("tally_ledger_accounts", "Accounts.", [("", stats.accounts)])
        gauge("tally_ledger_outstanding_credits", "Spendable credits (unexpired remainders of grants), by grant source.",
              stats.outstandingBySource.sorted { $0.key < $1.key }.map { ("{source=\"\($0.key)\"}", $0.value) })
        gauge("tally_ledger_average_balance_credits", "The average balance, rounded down.", [("", stats.averageBalance)])
        gauge("tally_ledger_debt_credits", "Credits owed (clawbacks that took more than was held).", [("", stats.debt)])
        gauge("tally_ledger_held_credits", "Credits reserved by holds.", [("", stats.held)])
        let kinds = stats.entriesByKind.sorted { $0.key < $1.key }
        gauge("tally_ledger_entries_last_day", "Ledger entries of the last 24 hours, by kind.", kinds.map { ("{kind=\"\($0.key)\"}", $0.value.count) })
        gauge("tally_ledger_entry_credits_last_day", "Credits of the ledger entries of the last 24 hours (signed), by kind.",
              kinds.map { ("{kind=\"\($0.key)\"}", $0.value.credits) })
        return out
    }
}

/// The last `LedgerStats` read, for `/metrics`.
public final class LedgerStatsCache: Sendable {
    public static let ttl: TimeInterval = 30
    private let state = Mutex<(stats: LedgerStats?, at: Double)>((nil, -.infinity))

    public init() {}

    /// The cached figures, read again when older than `ttl`; nil when they cannot be read.
    func current(_ context: IngressContext) async -> LedgerStats? {
        let now = RateLimiter.clock()
        if let cached = state.withLock({ now - $0.at < Self.ttl ? $0.stats : nil }) { return cached }
        let since = Date().addingTimeInterval(-86_400)
        guard let stats = try? await context.read({ c in try LedgerStats.read(since: since, on: c) }) else {
            return state.withLock { $0.stats }
        }
        state.withLock { $0 = (stats, now) }
        return stats
    }
}
