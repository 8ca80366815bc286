import Foundation
import Postgres
import Support

/// customer.subscription.created / updated / deleted.
extension StripeEventJob {
    static func applySubscription(_ event: StripeEvent, on tx: Connection) throws -> Outcome {
        let sub = event.object
        guard let id = StripeEvent.id(sub) else { throw Unresolvable(description: "the subscription has no id") }
        var user = try tx.query(StripeQueries.subscriptionUser, [id]).first?.string("user_id")
        if user == nil, let u = sub.at("metadata", "user_id")?.string, !u.isEmpty { user = u }
        guard let user else {
            return .waiting(keys: ["subscription:\(id)"], reason: "subscription \(id): its user is not recorded yet (no checkout, no metadata.user_id)")
        }
        try ensureAccount(user, on: tx)
        var status = sub["status"]?.string ?? "active"
        if event.type == "customer.subscription.deleted" { status = "canceled" }
        guard ["incomplete", "incomplete_expired", "trialing", "active", "past_due", "canceled", "unpaid", "paused"].contains(status) else {
            throw Unresolvable(description: "subscription \(id): unknown status \(status)")
        }
        // The period end lives on the items since 2025-03-31 (basil), at the top level before.
        var periodEnd = StripeEvent.time(sub["current_period_end"])
        var price: String?
        for item in sub.at("items", "data")?.array ?? [] {
            if let end = StripeEvent.time(item["current_period_end"]), periodEnd == nil || end > periodEnd! { periodEnd = end }
            price = price ?? StripeEvent.id(item["price"])
        }
        let applied = try tx.query(StripeQueries.applySubscriptionState, [
            id, user, status, periodEnd, sub["cancel_at_period_end"]?.bool ?? false, price, event.created,
        ]).first
        try wake(["subscription:\(id)"], on: tx)
        return .done(result(event, ["user_id": .string(user), "subscription": .string(id), "applied": .bool(applied != nil),
                                    "status": .string(try applied?.string("status") ?? status),
                                    "note": applied == nil ? "a newer event was applied already" : .null]))
    }
}
