import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// `credits.expire {}` or `{"as_of": ISO}`: writes off what is left of grants past their expiry,
/// except subscription and rollover grants (credits.rollover settles those). Hourly by cron.
///
/// The balance never counted an expired grant (it is computed when read), so this only makes
/// the books say so: one `expiry` entry per grant (reference `expire:grant:<id>`, so a rerun or
/// two overlapping runs write each grant off once). It fans out like credits.rollover
/// (`DueGrantFanOut`): the cron job enqueues batch jobs of `TALLY_EXPIRE_BATCH` (default 1,000)
/// accounts that run in parallel on every worker serving the maintenance queue.
/// Planner result: `{"as_of", "accounts", "batches", "enqueued"}`; batch result:
/// `{"grants": N, "credits": N, "accounts": N}`.
public struct CreditsExpireJob: Job {
    public typealias Args = DueGrantFanOut.Args

    public static let kind = "credits.expire"
    public static let queue = "maintenance"
    static let batch = 1000
    static let sources = GrantSource.allCases.filter { $0 != .subscription && $0 != .rollover }
    static let fanOut = DueGrantFanOut(kind: kind, queue: queue, sources: sources)

    let settings: LedgerSettings

    public init(settings: LedgerSettings = .defaults) {
        self.settings = settings
    }

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        try await Self.fanOut.run(args, batchSize: settings.expireBatch, context: context) {
            book, users, asOf, _ in try Self.expire(users, asOf: asOf, in: book).json
        }
    }

    struct Totals {
        var grants = 0
        var credits: Int64 = 0
        var accounts = 0
        var json: JSON { ["grants": .int(grants), "credits": .int(credits), "accounts": .int(accounts)] }
    }

    /// Writes off every due grant of `users` (loaded in `book`), one entry per grant.
    static func expire(_ users: [String], asOf: Date, in book: LedgerBook) throws -> Totals {
        var due: [(String, [GrantRecord])] = []
        for user in users where book.hasAccount(user) {
            due.append((user, try DueGrantFanOut.dueGrants(of: user, in: book, sources: sources, asOf: asOf)))
        }
        // One lookup of every reference instead of one per grant.
        try book.prefetch(references: due.flatMap { $0.1.map { "expire:grant:\($0.id)" } })
        var totals = Totals()
        for (user, grants) in due {
            var touched = false
            for grant in grants {
                let change = try book.writeOff(WriteOff(userID: user, grantIDs: [grant.id], reference: "expire:grant:\(grant.id)",
                                                        kind: "expiry",
                                                        metadata: ["grant_id": .int(grant.id), "source": .string(grant.source.rawValue)]))
                if let change {
                    totals.grants += 1
                    totals.credits -= change.amount
                    touched = true
                }
            }
            if touched { totals.accounts += 1 }
        }
        return totals
    }

    /// Writes off the due grants of up to `limit` accounts in one transaction (the whole job in
    /// one call, for tests and small ledgers); `seen` is how many accounts were due.
    static func expireBatch(asOf: Date?, limit: Int, on tx: Connection) throws -> (seen: Int, grants: Int, credits: Int64, accounts: Set<String>) {
        let cutoff = try asOf ?? DueGrantFanOut.databaseNow(on: tx)
        let users = try DueGrantFanOut.dueAccounts(sources: sources, asOf: cutoff, after: "", limit: limit, on: tx)
        guard !users.isEmpty else { return (0, 0, 0, []) }
        let book = LedgerBook(tx)
        try book.load(users)
        let totals = try expire(users, asOf: cutoff, in: book)
        let entries = try book.commit()
        return (users.count, totals.grants, totals.credits, Set(entries.map(\.userID)))
    }
}
