import Foundation
import Postgres
import Queue
import Support

/// `credits.expire {}` or `{"as_of": ISO}`: writes off what is left of grants past their expiry,
/// except subscription and rollover grants (credits.rollover settles those). Hourly by cron.
///
/// The balance never counted an expired grant (it is computed when read), so this only makes
/// the books say so: one `expiry` entry per grant (reference `expire:grant:<id>`, so a rerun or
/// two overlapping runs write each grant off once), 1,000 grants per transaction.
/// Result: `{"grants": N, "credits": N, "accounts": N}`.
public struct CreditsExpireJob: Job {
    public struct Args: Decodable, Sendable {
        public let as_of: String?
    }

    public static let kind = "credits.expire"
    public static let queue = "maintenance"
    static let batch = 1000

    public init() {}

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        var asOf: Date?
        if let text = args.as_of {
            guard let d = Timestamp.parse(text) else { throw JobError.permanent("as_of is not an ISO-8601 time: \(text)") }
            asOf = d
        }
        var totals = (grants: 0, credits: Int64(0), accounts: Set<String>())
        while !Task.isCancelled {
            let cutoff = asOf
            let done = try await context.pool.transaction { tx in try Self.expireBatch(asOf: cutoff, limit: Self.batch, on: tx) }
            totals.grants += done.grants
            totals.credits += done.credits
            totals.accounts.formUnion(done.accounts)
            if done.seen < Self.batch || done.grants == 0 { break }
        }
        if totals.grants > 0 {
            Log.info("credits expired", ["grants": totals.grants, "credits": totals.credits, "accounts": totals.accounts.count])
        }
        return .completed(["grants": .int(totals.grants), "credits": .int(totals.credits), "accounts": .int(totals.accounts.count)])
    }

    /// Writes off up to `limit` due grants in one transaction; `seen` is how many were due.
    static func expireBatch(asOf: Date?, limit: Int, on tx: Connection) throws -> (seen: Int, grants: Int, credits: Int64, accounts: Set<String>) {
        let due = try tx.query(LedgerQueries.dueForExpiry, [asOf ?? Date(), limit]).map { (try $0.int64("id"), try $0.string("user_id")) }
        guard !due.isEmpty else { return (0, 0, 0, []) }
        let book = LedgerBook(tx)
        try book.load(due.map(\.1))
        var grants = 0
        var credits: Int64 = 0
        var accounts: Set<String> = []
        for (id, user) in due {
            let source = try book.grants(of: user).first { $0.id == id }?.source.rawValue ?? "unknown"
            let change = try book.writeOff(WriteOff(userID: user, grantIDs: [id], reference: "expire:grant:\(id)", kind: "expiry",
                                                    metadata: ["grant_id": .int(id), "source": .string(source)]))
            if let change {
                grants += 1
                credits -= change.amount
                accounts.insert(user)
            }
        }
        try book.commit()
        return (due.count, grants, credits, accounts)
    }
}
