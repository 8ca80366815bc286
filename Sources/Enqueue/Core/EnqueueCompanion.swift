import Postgres

/// Rows written in the same transaction as the jobs they go with, by `EnqueueBatcher`: a flush
/// writes every companion of one type in one `write` (one statement for the batch). The Stripe
/// inbox's events are one (`StripeInboxEvent`); the batcher itself knows none of them.
public protocol EnqueueCompanion: Sendable {
    /// Writes `companions` (all of this type, in the order of their items) with the ids of the
    /// jobs they go with, in `tx`.
    static func write(_ companions: [any EnqueueCompanion], jobIDs: [Int64], on tx: Connection) throws
}
