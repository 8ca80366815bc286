import Foundation
import Postgres
import Support

/// One event from the `stripe_events` inbox (stored whole by the ingress), with the readers
/// the handlers share. Shapes are the basil API's (2025-03-31 and later) with the older
/// fields as fallbacks.
struct StripeEvent: Sendable {
    let id: String
    let type: String
    /// The event's own `created`: what "older" means for subscription and dispute states.
    let created: Date
    let receivedAt: Date
    let payload: JSON
    let processedAt: Date?
    let flaggedAt: Date?

    /// `data.object`.
    var object: JSON { payload.at("data", "object") ?? .null }

    /// The same inbox event with what Stripe's API says it is (`GET /v1/events/{id}`); nil
    /// when the answer is not that event.
    init?(fetched: JSON, inbox: StripeEvent) {
        guard fetched["id"]?.string == inbox.id, let type = fetched["type"]?.string, !type.isEmpty,
              let created = Self.time(fetched["created"]), fetched.at("data", "object") != nil else { return nil }
        id = inbox.id
        self.type = type
        self.created = created
        receivedAt = inbox.receivedAt
        payload = fetched
        processedAt = inbox.processedAt
        flaggedAt = inbox.flaggedAt
    }

    init(row: Row) throws {
        id = try row.string("id")
        type = try row.string("type")
        created = try row.date("created")
        receivedAt = try row.date("received_at")
        payload = try row.json("payload")
        processedAt = try row.optDate("processed_at")
        flaggedAt = try row.optDate("flagged_at")
    }

    // MARK: Readers

    /// An id that may be a string or an expanded object (`"cus_1"` or `{"id": "cus_1", …}`).
    static func id(_ value: JSON?) -> String? {
        guard let value else { return nil }
        if let s = value.string, !s.isEmpty { return s }
        if let s = value["id"]?.string, !s.isEmpty { return s }
        return nil
    }

    /// A Unix time in seconds.
    static func time(_ value: JSON?) -> Date? {
        guard let n = value?.int64 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(n))
    }

    /// A whole number of credits written as a JSON integer or a string of digits ("500").
    static func credits(_ value: JSON?) -> Int64? {
        guard let value else { return nil }
        let n = value.int64 ?? value.string.flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
        guard let n, n > 0 else { return nil }
        return n
    }

    static func amount(_ value: JSON?) -> Int64? {
        guard let n = value?.int64, n >= 0 else { return nil }
        return n
    }
}
