import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// `admin.adjust {"user_id", "amount", "reason", "actor", "reference"?, "expires_at"?}`: an
/// operator's manual grant (amount > 0, source `adjustment`) or debit (amount < 0, refused
/// rather than creating debt), with actor and reason kept in the entry's metadata. The
/// reference is `admin:<reference>` when given (so a retried request applies once), else
/// `admin:job:<job id>`. `tally grant` and `tally debit` apply the same `AdminAdjustment`.
public struct AdminAdjustJob: Job {
    public static let kind = "admin.adjust"

    public init() {}

    public func run(_ args: AdminAdjustment, context: JobContext) async throws -> JobResult {
        let reference = args.reference.map { "admin:\($0)" } ?? "admin:job:\(context.job.id)"
        do {
            return try await context.completeInTransaction { tx in try args.apply(reference: reference, on: tx) }
        } catch let error as LedgerError {
            throw JobError.permanent(error.description)
        }
    }
}

/// An operator's adjustment of one account.
public struct AdminAdjustment: Codable, Sendable {
    public let user_id: String
    /// Positive: grant; negative: debit.
    public let amount: Int64
    public let reason: String
    public let actor: String
    public let reference: String?
    public let expires_at: String?

    public init(user_id: String, amount: Int64, reason: String, actor: String, reference: String? = nil, expires_at: String? = nil) {
        self.user_id = user_id
        self.amount = amount
        self.reason = reason
        self.actor = actor
        self.reference = reference
        self.expires_at = expires_at
    }

    /// Applies it in `tx`. Result: `{"user_id", "amount", "balance", "applied": Bool}` or a
    /// refusal `{"error": "account_not_found" | "insufficient_credits", ...}`.
    public func apply(reference ledgerReference: String, on tx: Connection) throws -> JSON {
        guard amount != 0 else { throw LedgerError.invalid("amount must not be zero") }
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty, reason.utf8.count <= 1000 else {
            throw LedgerError.invalid("reason must be 1 to 1000 bytes")
        }
        guard !actor.trimmingCharacters(in: .whitespaces).isEmpty, actor.utf8.count <= 200 else {
            throw LedgerError.invalid("actor must be 1 to 200 bytes")
        }
        var expiry: Date?
        if let text = expires_at {
            guard let d = Timestamp.parse(text) else { throw LedgerError.invalid("expires_at is not an ISO-8601 time: \(text)") }
            expiry = d
        }
        let book = LedgerBook(tx)
        try book.load([user_id])
        guard book.hasAccount(user_id) else { return LedgerRefusal.accountNotFound.result(["user_id": .string(user_id)]) }
        let metadata: JSON = ["actor": .string(actor), "reason": .string(reason)]
        var applied = true
        if amount > 0 {
            let change = try book.grant(NewGrant(userID: user_id, source: .adjustment, amount: amount, expiresAt: expiry,
                                                 reference: ledgerReference, kind: "adjustment", metadata: metadata))
            applied = change != nil
        } else {
            let debit = Debit(userID: user_id, amount: -amount, reference: ledgerReference, kind: "adjustment", metadata: metadata)
            switch try book.debit(debit) {
            case .applied: break
            case .duplicate: applied = false
            case .insufficient(let balance, let required):
                return LedgerRefusal.insufficientCredits.result(["user_id": .string(user_id), "balance": .int(balance), "required": .int(required)])
            case .accountNotFound:
                return LedgerRefusal.accountNotFound.result(["user_id": .string(user_id)])
            }
        }
        let balance = try book.balance(of: user_id)
        try book.commit()
        return ["user_id": .string(user_id), "amount": .int(amount), "balance": .int(balance), "applied": .bool(applied),
                "reference": .string(ledgerReference)]
    }
}
