import Foundation
import Support

/// Credits to spend (`LedgerBook.debit`): never below zero.
public struct Debit: Sendable {
    public var userID: String
    public var amount: Int64
    public var reference: String
    public var kind: String
    public var metadata: JSON
    public var notification: NotificationType?

    public init(userID: String, amount: Int64, reference: String, kind: String = "usage", metadata: JSON = [:],
                notification: NotificationType? = nil) {
        self.userID = userID
        self.amount = amount
        self.reference = reference
        self.kind = kind
        self.metadata = metadata
        self.notification = notification
    }
}

/// What a debit came to.
public enum DebitOutcome: Sendable, Equatable {
    case applied(LedgerChange)
    /// The reference was applied before: `amount` is what that entry charged.
    case duplicate(amount: Int64, balance: Int64)
    /// The balance does not cover it (nothing changed).
    case insufficient(balance: Int64, required: Int64)
    case accountNotFound
}
