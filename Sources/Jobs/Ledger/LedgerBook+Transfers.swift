import Foundation
import Postgres
import Support

/// What a transfer needs of the book: taking credits from the sender's transferable grants,
/// with each piece's expiry so the recipient's grants keep it.
extension LedgerBook {
    /// A piece of a transfer: credits from one of the sender's grants, and when they expire.
    public struct TransferPiece: Sendable, Equatable {
        public let grantID: Int64
        public let amount: Int64
        public let expiresAt: Date?
    }

    public enum TransferOutcome: Sendable, Equatable {
        case applied(LedgerChange, pieces: [TransferPiece])
        /// The transferable balance does not cover it (`balance`: what may be sent).
        case insufficient(balance: Int64, required: Int64)
        case duplicate
    }

    /// What `userID` may send now: unexpired remainders of the grants whose source may be
    /// transferred (promotional ones only when `promotional`), less debt, never more than the
    /// spendable balance.
    func transferable(_ userID: String, promotional: Bool) throws -> Int64 {
        let account = try state(userID)
        var sum: Int64 = 0
        for g in account.grants where !g.isExpired(at: now) && (promotional || !g.source.isPromotional) {
            sum = try Self.add(sum, g.remaining)
        }
        return min(try Self.add(sum, -account.debt), try balance(of: userID))
    }

    /// One entry of −`amount` taken from the sender's transferable grants in consumption order.
    func transferOut(userID: String, amount: Int64, promotional: Bool, reference: String, kind: String, metadata: JSON,
                     payload: [String: JSON]) throws -> TransferOutcome {
        try Ledger.checkCredits(amount, "the transfer")
        guard amount > 0 else { throw LedgerError.invalid("a transfer needs a positive amount, got \(amount)") }
        guard try !isApplied(reference) else { return .duplicate }
        let available = try transferable(userID, promotional: promotional)
        guard available >= amount else { return .insufficient(balance: max(0, available), required: amount) }
        var account = try state(userID)
        var left = amount
        var pieces: [TransferPiece] = []
        for i in account.grants.indices where left > 0 {
            let g = account.grants[i]
            guard !g.isExpired(at: now), g.remaining > 0, promotional || !g.source.isPromotional else { continue }
            let take = min(left, g.remaining)
            account.grants[i].remaining -= take
            left -= take
            pieces.append(TransferPiece(grantID: g.id, amount: take, expiresAt: g.expiresAt))
        }
        guard left == 0 else { throw LedgerError.invalid("the transferable grants covered \(amount - left) of \(amount)") }
        let change = try record(&account, amount: -amount, kind: kind, reference: reference, metadata: metadata,
                                allocations: pieces.map { ($0.grantID, -$0.amount) }, notification: .balanceUpdate, payload: payload)
        return .applied(change, pieces: pieces)
    }
}
