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
        let rows = try tx.query(insert, [items.map(\.userID), items.map(\.type.rawValue), items.map(\.payload)])
        let ids = try rows.map { try $0.int64("id") }
        try enqueueDeliveries(ids, on: tx)  // notify.deliver per endpoint (Inbox+Delivery.swift)
        return ids
    }

    /// `unnest` keeps one prepared plan for any batch size; ids come back in input order
    /// (identity values are assigned in the order rows are inserted, and RETURNING of an
    /// INSERT … SELECT without ORDER BY follows that order; sorted to be sure).
    static let insert = Query("tally_inbox_insert", """
        WITH ins AS (
            INSERT INTO notifications (user_id, type, payload)
            SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])
            RETURNING id, user_id, type
        ), sent AS (
            SELECT pg_notify('\(Channels.events)', json_build_object('id', id, 'user_id', user_id, 'type', type)::text)
            FROM ins
        )
        SELECT id, (SELECT count(*) FROM sent) AS sent FROM ins ORDER BY id
        """)
}
