import Foundation
import Postgres
import Queue
import Support

/// The notification types of DESIGN.md, "Notifications" (the database checks the same list).
public enum NotificationType: String, Sendable, CaseIterable {
    case balanceUpdate = "balance_update"
    case transactionComplete = "transaction_complete"
    case rewardEarned = "reward_earned"
    case paymentFailed = "payment_failed"
    case purchaseUpdate = "purchase_update"
    case balanceLow = "balance_low"
    case balanceDepleted = "balance_depleted"
    case balanceRecovered = "balance_recovered"
    case holdUpdate = "hold_update"
    case transferUpdate = "transfer_update"
    case topupUpdate = "topup_update"
}

/// One notification to write.
public struct InboxItem: Sendable {
    public let userID: String
    public let type: NotificationType
    public let payload: JSON

    public init(userID: String, type: NotificationType, payload: JSON) {
        self.userID = userID
        self.type = type
        self.payload = payload
    }
}

/// The one place notifications are written: the user's inbox row and `NOTIFY tally_events`
/// (`{"id":…, "user_id":…, "type":…}`), in the caller's transaction, so a listener hears of a
/// change exactly when it commits and real time never waits on delivery.
///
/// Every balance change reaches it (the ledger writes one notification per entry, in the
/// transaction of the entry), as do payment failures. Delivery to registered endpoints
/// (`notify.deliver`, one job per endpoint) is enqueued here too (`Inbox+Delivery.swift`).
public enum Inbox {
    /// Writes `items` in one statement (any number; batches of usage write hundreds at once)
    /// and returns their ids in order.
    @discardableResult
    public static func write(_ items: [InboxItem], on tx: Connection) throws -> [Int64] {
        guard !items.isEmpty else { return [] }
        let rows = try tx.query(NotifyQueries.insertNotifications, [items.map(\.userID), items.map(\.type.rawValue), items.map(\.payload)])
        let ids = try rows.map { try $0.int64("id") }
        // A user without an account has no counter to number from: the join drops the row.
        guard ids.count == items.count else {
            throw LedgerError.invalid("notifications for users without an account: \(Set(items.map(\.userID)).sorted().prefix(5))")
        }
        try enqueueDeliveries(ids, on: tx)  // notify.deliver per endpoint (Inbox+Delivery.swift)
        return ids
    }
}
