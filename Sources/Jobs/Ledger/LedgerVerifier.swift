import Foundation
import Postgres
import Support

/// `tally ledger verify`: checks the invariants of DESIGN.md, "The ledger", for every account.
/// - the sum of its entries equals the sum of its grants' remainders less its debt (and the
///   account's running total and last balance_after agree with that sum);
/// - each grant's remainder equals its amount plus its allocations;
/// - no remainder is negative.
/// Two aggregate queries over the whole ledger (sequential scans): run it off-peak on a large one.
public enum LedgerVerifier {
    public struct Failure: Sendable, Equatable {
        public let userID: String
        public let problem: String
    }

    public struct Report: Sendable {
        public let accounts: Int64
        public let failures: [Failure]
        public var ok: Bool { failures.isEmpty }
        /// The accounts that fail, each once, sorted.
        public var failingAccounts: [String] { Array(Set(failures.map(\.userID))).sorted() }
    }

    /// Reads in one REPEATABLE READ transaction, so both checks see the same moment.
    public static func verify(on connection: Connection) throws -> Report {
        try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        do {
            let report = try check(connection)
            try connection.execute("COMMIT")
            return report
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    private static func check(_ c: Connection) throws -> Report {
        var failures: [Failure] = []
        for row in try c.query(LedgerQueries.verifyAccounts) {
            let user = try row.string("user_id")
            let entries = try row.int64("entries"), remaining = try row.int64("remaining"), debt = try row.int64("debt")
            let total = try row.int64("entries_total")
            if entries != remaining - debt {
                failures.append(Failure(userID: user, problem: "entries sum to \(entries) but grants hold \(remaining) less debt \(debt) = \(remaining - debt)"))
            }
            if total != entries {
                failures.append(Failure(userID: user, problem: "the account's running total is \(total) but its entries sum to \(entries)"))
            }
            if let last = try row.optInt64("last_balance_after"), last != entries {
                failures.append(Failure(userID: user, problem: "the last entry's balance_after is \(last) but the entries sum to \(entries)"))
            }
        }
        for row in try c.query(LedgerQueries.verifyGrants) {
            let id = try row.int64("id"), amount = try row.int64("amount"), remaining = try row.int64("remaining")
            let allocated = try row.int64("allocated")
            var problem = "grant \(id): remaining \(remaining) but amount \(amount) plus allocations \(allocated) = \(amount + allocated)"
            if remaining < 0 { problem = "grant \(id): remaining \(remaining) is negative" }
            failures.append(Failure(userID: try row.string("user_id"), problem: problem))
        }
        let accounts = try c.query(LedgerQueries.countAccounts).first?.int64("n") ?? 0
        return Report(accounts: accounts, failures: failures)
    }
}
