import Foundation
import Postgres
import Support

/// What a hold needs of the book beyond debits (`Holds`): giving reserved credits back to the
/// very grants they came from, and taking a capture from those same grants.
extension LedgerBook {
    /// One entry of +Σ`allocations` that gives each grant back its share: a grant that reached
    /// zero or expired since is loaded and credited too (what expired is then written off by
    /// credits.expire, as it would have been). Nil when the reference was applied before.
    func restore(userID: String, to allocations: [(grantID: Int64, amount: Int64)], reference: String, kind: String,
                 metadata: JSON, notification: NotificationType, payload: [String: JSON]) throws -> LedgerChange? {
        var account = try state(userID)
        guard try !isApplied(reference) else { return nil }
        var total: Int64 = 0
        for a in allocations {
            guard a.amount > 0 else { throw LedgerError.invalid("a restored share must be positive, got \(a.amount)") }
            total = try Self.add(total, a.amount)
        }
        guard total > 0 else { return nil }
        let missing = Set(allocations.map(\.grantID)).subtracting(account.grants.map(\.id))
        if !missing.isEmpty {
            for row in try connection.query(LedgerQueries.grantsByID, [Array(missing).sorted(), userID]) {
                account.grants.append(GrantRecord(
                    id: try row.int64("id"), userID: userID,
                    source: try GrantSource(rawValue: row.string("source")).orThrow("unknown grant source in row"),
                    amount: try row.int64("amount"), remaining: try row.int64("remaining"),
                    expiresAt: try row.optDate("expires_at"), paymentID: try row.optInt64("payment_id")))
            }
            account.grants.sort(by: GrantRecord.spendsBefore)
        }
        for a in allocations {
            guard let i = account.grants.firstIndex(where: { $0.id == a.grantID }) else {
                throw LedgerError.invalid("grant \(a.grantID) is not \(userID)'s")
            }
            let restored = try Self.add(account.grants[i].remaining, a.amount)
            guard restored <= account.grants[i].amount else {
                throw LedgerError.invalid("grant \(a.grantID) would hold more than it granted (\(restored) > \(account.grants[i].amount))")
            }
            account.grants[i].remaining = restored
        }
        return try record(&account, amount: total, kind: kind, reference: reference, metadata: metadata,
                          allocations: allocations.map { ($0.grantID, $0.amount) }, notification: notification, payload: payload)
    }

    /// One entry of −`amount` taken from these grants in this order, each at most its share,
    /// past expiry too (a capture spends what its hold reserved, whatever the clock did since).
    /// Nil when the reference was applied before or `amount` is 0.
    func take(userID: String, amount: Int64, from allocations: [(grantID: Int64, amount: Int64)], reference: String, kind: String,
              metadata: JSON, notification: NotificationType, payload: [String: JSON]) throws -> LedgerChange? {
        try Ledger.checkCredits(amount, "the capture")
        guard amount > 0 else { return nil }
        var account = try state(userID)
        guard try !isApplied(reference) else { return nil }
        var left = amount
        var taken: [(Int64, Int64)] = []
        for a in allocations where left > 0 {
            guard let i = account.grants.firstIndex(where: { $0.id == a.grantID }) else { continue }
            let take = min(left, a.amount, account.grants[i].remaining)
            guard take > 0 else { continue }
            account.grants[i].remaining -= take
            left -= take
            taken.append((a.grantID, -take))
        }
        guard left == 0 else { throw LedgerError.invalid("the grants of the hold cover \(amount - left) of \(amount) credits") }
        return try record(&account, amount: -amount, kind: kind, reference: reference, metadata: metadata,
                          allocations: taken, notification: notification, payload: payload)
    }
}
