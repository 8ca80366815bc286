import Foundation
import Postgres
import Support

/// payment_intent.succeeded / payment_intent.payment_failed of an auto top-up (a PaymentIntent
/// whose `metadata.topup_charge` names one of Tally's charges). Other payment intents (a
/// checkout's) are acknowledged and change nothing: their checkout event grants.
extension StripeEventJob {
    static func applyPaymentIntent(_ event: StripeEvent, on tx: Connection) throws -> Outcome {
        let intent = event.object
        guard let chargeID = intent["metadata"]?["topup_charge"]?.string else {
            return .done(result(event, ["ignored": "not an auto top-up (no metadata.topup_charge)"]))
        }
        guard let intentID = StripeEvent.id(intent), let charge = try tx.query(AutoTopupQueries.charge, [chargeID]).first else {
            throw Unresolvable(description: "payment intent for auto top-up \(chargeID): no such charge")
        }
        let user = try charge.string("user_id")
        try ensureAccount(user, on: tx)
        guard event.type == "payment_intent.succeeded" else {
            // An asynchronous failure: recorded, paused, told, no credits.
            _ = try tx.query(AutoTopupQueries.chargeEnded, [chargeID, "failed", "payment_failed", intentID])
            try tx.query(AutoTopupQueries.pause, [user, "payment_failed"])
            try Inbox.write([InboxItem(userID: user, type: .topupUpdate, payload: ["charge_id": .string(chargeID), "status": "failed",
                                                                                   "reason": "payment_failed", "paused": true])], on: tx)
            return .done(result(event, ["charge_id": .string(chargeID), "status": "failed"]))
        }
        let credits = try charge.int64("credits")
        let amount = StripeEvent.amount(intent["amount_received"]) ?? StripeEvent.amount(intent["amount"]) ?? 0
        let paymentID = try tx.query(AutoTopupQueries.insertPayment, [user, intentID, StripeEvent.id(intent["latest_charge"]), amount,
                                                                      intent["currency"]?.string ?? "usd", credits, event.id]).first?.int64("id")
            ?? tx.query(AutoTopupQueries.paymentByIntent, [intentID]).first?.int64("id")
        guard let paymentID else { throw Unresolvable(description: "auto top-up \(chargeID): its payment could not be recorded") }
        let book = LedgerBook(tx)
        try book.load([user])
        let change = try book.grant(NewGrant(userID: user, source: .topup, amount: credits, paymentID: paymentID,
                                             reference: "stripe:payment_intent:\(intentID)",
                                             metadata: ["event_id": .string(event.id), "payment_intent": .string(intentID), "topup_charge": .string(chargeID),
                                                        "amount": .int(amount)]))
        let balance = try change?.balance ?? book.balance(of: user)
        try book.commit()
        if let grant = change?.grantID { try tx.query(StripeQueries.setPaymentGrants, [[paymentID], [grant]]) }
        if try tx.query(AutoTopupQueries.chargeEnded, [chargeID, "succeeded", nil as String?, intentID]).first != nil {
            try Inbox.write([InboxItem(userID: user, type: .topupUpdate, payload: ["charge_id": .string(chargeID), "status": "succeeded",
                                                                                   "credits": .int(credits), "balance": .int(balance)])], on: tx)
        }
        try wake(["payment_intent:\(intentID)"], on: tx)
        return .done(result(event, ["user_id": .string(user), "charge_id": .string(chargeID), "credits": .int(credits),
                                    "granted": .bool(change != nil), "balance": .int(balance)]))
    }
}
