import Postgres

/// A verified Stripe event for the `stripe_events` inbox, stored in the transaction that
/// enqueues its `stripe.event` job (so the job always finds it, and a redelivery finds both).
public struct StripeInboxEvent: EnqueueCompanion {
    public let id: String
    public let type: String
    public let apiVersion: String?
    public let created: Int64
    /// The raw body (already validated JSON).
    public let payload: String

    public init(id: String, type: String, apiVersion: String?, created: Int64, payload: String) {
        self.id = id
        self.type = type
        self.apiVersion = apiVersion
        self.created = created
        self.payload = payload
    }

    /// One INSERT for a batch's events; a redelivered event is skipped.
    public static func write(_ companions: [any EnqueueCompanion], jobIDs: [Int64], on tx: Connection) throws {
        var ids: [String] = [], types: [String] = [], versions: [String?] = [], created: [Int64] = []
        var payloads: [String] = [], jobs: [Int64] = []
        for (companion, jobID) in zip(companions, jobIDs) {
            guard let event = companion as? StripeInboxEvent else { continue }
            ids.append(event.id)
            types.append(event.type)
            versions.append(event.apiVersion)
            created.append(event.created)
            payloads.append(event.payload)
            jobs.append(jobID)
        }
        try tx.query(IngressQueries.insertStripeEvents, [ids, types, versions, created, payloads, jobs])
    }
}
