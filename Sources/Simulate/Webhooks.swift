import DevFakes
import Foundation
import Support

/// The webhooks the simulation plays: Stripe events shaped like the fixtures of
/// Tests/Fixtures/stripe (top-up checkouts, refunds, disputes) and BitGo transfer
/// notifications, with the signatures their senders make.
enum Webhooks {
    static func stripeSignature(_ body: [UInt8], secret: String = SystemUnderTest.stripeSecret) -> (name: String, value: String) {
        ("Stripe-Signature", TimestampedSignature.header(secret: secret, timestamp: Int64(Date().timeIntervalSince1970), body: body))
    }

    static func bitgoSignature(_ body: [UInt8]) -> (name: String, value: String) {
        ("X-Signature-SHA256", Crypto.hmacSHA256Hex(key: SystemUnderTest.bitgoSecret, message: body))
    }

    /// `later`: seconds added to `created` (an event about the same object that Stripe made
    /// after another, even within the same second).
    static func event(_ id: String, _ type: String, _ object: JSON, later: Int64 = 0) -> [UInt8] {
        let e: JSON = ["id": .string(id), "object": "event", "type": .string(type), "api_version": "2025-08-27.basil",
                       "created": .int(Int64(Date().timeIntervalSince1970) + later), "livemode": false, "data": ["object": object]]
        return Array(e.serialized.utf8)
    }

    /// A paid top-up checkout; without `credits` in its metadata the worker reads them from
    /// the Stripe API's line items (the fake's fixture: 500 credits).
    static func checkout(n: Int, user: String, amount: Int64, credits: Int64?) -> [UInt8] {
        var metadata: [String: JSON] = ["user_id": .string(user), "purchase_kind": "topup"]
        if let credits { metadata["credits"] = .string(String(credits)) }
        return event("evt_sim_checkout_\(n)", "checkout.session.completed", [
            "id": .string("cs_sim_\(n)"), "object": "checkout.session", "mode": "payment", "payment_status": "paid", "status": "complete",
            "client_reference_id": .string(user), "amount_total": .int(amount), "amount_subtotal": .int(amount), "currency": "usd",
            "payment_intent": .string("pi_sim_\(n)"), "metadata": .object(metadata),
        ])
    }

    static func refund(n: Int, amount: Int64, refunded: Int64) -> [UInt8] {
        event("evt_sim_refund_\(n)", "charge.refunded", [
            "id": .string("ch_sim_\(n)"), "object": "charge", "amount": .int(amount), "amount_captured": .int(amount),
            "amount_refunded": .int(refunded), "currency": "usd", "paid": true, "captured": true, "refunded": .bool(refunded == amount),
            "status": "succeeded", "payment_intent": .string("pi_sim_\(n)"), "metadata": [:],
        ])
    }

    /// `charge.dispute.created` (status nil: `needs_response`) or `charge.dispute.closed` (`won`, `lost`).
    static func dispute(n: Int, amount: Int64, closed status: String? = nil) -> [UInt8] {
        event(status == nil ? "evt_sim_dispute_\(n)" : "evt_sim_dispute_closed_\(n)",
              status == nil ? "charge.dispute.created" : "charge.dispute.closed", [
            "id": .string("dp_sim_\(n)"), "object": "dispute", "amount": .int(amount), "currency": "usd",
            "charge": .string("ch_sim_\(n)"), "payment_intent": .string("pi_sim_\(n)"), "status": .string(status ?? "needs_response"),
            "reason": "fraudulent", "metadata": [:],
        ], later: status == nil ? 0 : 1)
    }

    /// `invoice.paid` (subscription_create) for a month that ended at `periodEnd` (unix),
    /// naming its user in the subscription's metadata (API versions since 2025-03-31).
    static func invoicePaid(n: Int, user: String, periodEnd: Int64) -> [UInt8] {
        let start = periodEnd - 30 * 86_400
        let line: JSON = ["id": .string("il_sim_\(n)"), "object": "line_item", "amount": 999, "currency": "usd", "quantity": 1,
                          "period": ["start": .int(start), "end": .int(periodEnd)],
                          "pricing": ["type": "price_details", "price_details": ["price": "price_sim_monthly", "product": "prod_sim_monthly"]],
                          "parent": ["type": "subscription_item_details",
                                     "subscription_item_details": ["subscription": .string("sub_sim_\(n)"), "proration": false]]]
        return event("evt_sim_invoice_\(n)", "invoice.paid", [
            "id": .string("in_sim_\(n)"), "object": "invoice", "billing_reason": "subscription_create", "status": "paid",
            "amount_due": 999, "amount_paid": 999, "currency": "usd", "customer": .string("cus_sim_\(n)"),
            "payment_intent": .string("pi_sim_invoice_\(n)"), "period_start": .int(start - 30 * 86_400), "period_end": .int(start),
            "lines": ["object": "list", "data": [line], "has_more": false],
            "parent": ["type": "subscription_details",
                       "subscription_details": ["subscription": .string("sub_sim_\(n)"), "metadata": ["user_id": .string(user)]]],
        ])
    }

    static func bitgoTransfer(id: String, coin: String) -> [UInt8] {
        let hook: JSON = ["hash": .string(Crypto.randomHex(16)), "transfer": .string(id), "coin": .string(coin), "type": "transfer",
                          "state": "confirmed", "wallet": .string(FakeBitGo.wallets[coin] ?? "")]
        return Array(hook.serialized.utf8)
    }
}
