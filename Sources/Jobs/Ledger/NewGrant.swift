import Foundation
import Support

/// Credits to add (`LedgerBook.grant`). Debt is repaid first from them.
public struct NewGrant: Sendable {
    public var userID: String
    public var source: GrantSource
    public var amount: Int64
    /// nil: never expires.
    public var expiresAt: Date?
    /// The payment that bought it (refunds and disputes take from it first).
    public var paymentID: Int64?
    /// Unique in the ledger for ever, namespaced by source and user (`reward:<user>:<key>`).
    public var reference: String
    /// The entry's kind; the source's name unless given.
    public var kind: String?
    public var metadata: JSON
    /// The notification's type; by source unless given (purchases `transaction_complete`,
    /// rewards `reward_earned`, others `balance_update`).
    public var notification: NotificationType?

    public init(userID: String, source: GrantSource, amount: Int64, expiresAt: Date? = nil, paymentID: Int64? = nil,
                reference: String, kind: String? = nil, metadata: JSON = [:], notification: NotificationType? = nil) {
        self.userID = userID
        self.source = source
        self.amount = amount
        self.expiresAt = expiresAt
        self.paymentID = paymentID
        self.reference = reference
        self.kind = kind
        self.metadata = metadata
        self.notification = notification
    }
}
