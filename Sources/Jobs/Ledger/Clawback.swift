import Foundation
import Support

/// Credits to take back (`LedgerBook.clawback`): from `fromGrant` first, then the other
/// spendable grants in consumption order, the rest as debt.
public struct Clawback: Sendable {
    public var userID: String
    public var amount: Int64
    public var reference: String
    /// The grant the refunded or disputed payment bought.
    public var fromGrant: Int64?
    public var kind: String
    public var metadata: JSON
    public var notification: NotificationType?

    public init(userID: String, amount: Int64, reference: String, fromGrant: Int64? = nil, kind: String = "clawback",
                metadata: JSON = [:], notification: NotificationType? = nil) {
        self.userID = userID
        self.amount = amount
        self.reference = reference
        self.fromGrant = fromGrant
        self.kind = kind
        self.metadata = metadata
        self.notification = notification
    }
}
