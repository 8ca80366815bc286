import Foundation
import Postgres
import Support

/// charge.refunded and charge.dispute.*: clawbacks, per charge and cumulative (ClawbackMath).
extension StripeEventJob {
    /// The recorded payment a charge belongs to.
    struct ChargedPayment {
        let id: Int64
        let userID: String
        let credits: Int64
        let amount: Int64
        let grantID: Int64?
    }

    static func chargedPayment(charge: String, paymentIntent: String?, invoice: String?, on tx: Connection) throws -> ChargedPayment? {
        guard let row = try tx.query(StripeQueries.paymentForCharge, [charge, paymentIntent, invoice]).first else { return nil }
        return ChargedPayment(id: try row.int64("id"), userID: try row.string("user_id"), credits: try row.int64("credits"),
                              amount: try row.int64("amount"), grantID: try row.optInt64("grant_id"))
    }

    static func waitingForCharge(_ charge: String, paymentIntent: String?) -> Outcome {
        var keys = ["charge:\(charge)"]
        if let paymentIntent { keys.append("payment_intent:\(paymentIntent)") }
        return .waiting(keys: keys, reason: "charge \(charge) (payment intent \(paymentIntent ?? "none")) is not linked to a recorded payment")
    }

    static func applyRefund(_ event: StripeEvent, on tx: Connection) throws -> Outcome {
        let charge = event.object
        guard let chargeID = StripeEvent.id(charge) else { throw Unresolvable(description: "the charge has no id") }
        let paymentIntent = StripeEvent.id(charge["payment_intent"])
        guard let payment = try chargedPayment(charge: chargeID, paymentIntent: paymentIntent, invoice: StripeEvent.id(charge["invoice"]), on: tx) else {
            return waitingForCharge(chargeID, paymentIntent: paymentIntent)
        }
        let refunded = StripeEvent.amount(charge["amount_refunded"]) ?? 0
        return try settleClawback(event, payment: payment, chargeID: chargeID, paymentIntent: paymentIntent,
                                  chargedAmount: StripeEvent.amount(charge["amount"]), on: tx) { state in
            // Refunds only grow: an older charge.refunded arriving late changes nothing.
            state.amountRefunded = max(state.amountRefunded, refunded)
        }
    }

    static func applyDispute(_ event: StripeEvent, on tx: Connection) throws -> Outcome {
        let dispute = event.object
        guard dispute["object"]?.string == "dispute" || dispute["charge"] != nil else {
            return .done(result(event, ["ignored": "not a dispute object"]))
        }
        guard let disputeID = StripeEvent.id(dispute), let chargeID = StripeEvent.id(dispute["charge"]) else {
            throw Unresolvable(description: "the dispute has no id or no charge")
        }
        let paymentIntent = StripeEvent.id(dispute["payment_intent"])
        guard let payment = try chargedPayment(charge: chargeID, paymentIntent: paymentIntent, invoice: nil, on: tx) else {
            return waitingForCharge(chargeID, paymentIntent: paymentIntent)
        }
        let amount = StripeEvent.amount(dispute["amount"]) ?? 0
        let status = dispute["status"]?.string
        return try settleClawback(event, payment: payment, chargeID: chargeID, paymentIntent: paymentIntent, chargedAmount: nil, on: tx) { state in
            // The newest dispute event wins; an older one arriving late changes nothing.
            if state.disputeEventCreated == nil || state.disputeEventCreated! <= event.created {
                state.disputeID = disputeID
                state.disputeAmount = amount
                state.disputeStatus = status
                state.disputeEventCreated = event.created
            }
        }
    }

    /// A charge's clawback row, as locked for the transaction.
    struct ClawbackState {
        var amountCharged: Int64
        var amountRefunded: Int64
        var disputeID: String?
        var disputeAmount: Int64
        var disputeStatus: String?
        var disputeEventCreated: Date?
        var creditsTaken: Int64
        var steps: Int
    }

    /// Locks the account and the charge's clawback row, applies the event's news (`update`),
    /// and moves what was taken to the new target: takes the difference (from the grant the
    /// payment bought, then the soonest-expiring, the rest as debt) or gives it back (a new
    /// grant like the one bought, which repays any debt first).
    static func settleClawback(_ event: StripeEvent, payment: ChargedPayment, chargeID: String, paymentIntent: String?,
                               chargedAmount: Int64?, on tx: Connection, update: (inout ClawbackState) -> Void) throws -> Outcome {
        let book = LedgerBook(tx)
        try book.load([payment.userID])  // the account first: the ledger's lock order
        try tx.query(StripeQueries.linkPayment, [payment.id, nil as String?, chargeID])
        // The charge is linked to its payment now: a dispute that names only the charge (no
        // payment intent) and waits for it can be applied.
        try wake(["charge:\(chargeID)"], on: tx)
        let charged = chargedAmount.flatMap { $0 > 0 ? $0 : nil } ?? payment.amount
        guard charged > 0 else { throw Unresolvable(description: "charge \(chargeID): the amount charged is unknown (0)") }
        try tx.query(StripeQueries.openClawback, [chargeID, payment.id, payment.userID, charged])
        guard let row = try tx.query(StripeQueries.lockClawback, [chargeID]).first else {
            throw Unresolvable(description: "charge \(chargeID): its clawback row could not be read")
        }
        var state = ClawbackState(
            amountCharged: try row.int64("amount_charged"), amountRefunded: try row.int64("amount_refunded"),
            disputeID: try row.optString("dispute_id"), disputeAmount: try row.int64("dispute_amount"),
            disputeStatus: try row.optString("dispute_status"), disputeEventCreated: try row.optDate("dispute_event_created"),
            creditsTaken: try row.int64("credits_taken"), steps: try row.int("steps"))
        if let chargedAmount, chargedAmount > 0 { state.amountCharged = chargedAmount }
        update(&state)
        let math = ClawbackMath(creditsBought: payment.credits, amountCharged: state.amountCharged, amountRefunded: state.amountRefunded,
                                disputeAmount: state.disputeAmount, disputeStatus: state.disputeStatus)
        let step = math.step(alreadyTaken: state.creditsTaken)
        var fields: [String: JSON] = [
            "user_id": .string(payment.userID), "charge": .string(chargeID), "credits_bought": .int(payment.credits),
            "amount_charged": .int(state.amountCharged), "amount_refunded": .int(state.amountRefunded),
            "dispute_status": .optional(state.disputeStatus), "target": .int(math.target), "taken_before": .int(state.creditsTaken),
        ]
        if step != 0 {
            state.steps += 1
            let reference = "clawback:stripe:charge:\(chargeID):\(state.steps)"
            let metadata: JSON = ["event_id": .string(event.id), "charge": .string(chargeID), "payment_id": .int(payment.id),
                                  "amount_refunded": .int(state.amountRefunded), "dispute_amount": .int(state.disputeAmount),
                                  "dispute_status": .optional(state.disputeStatus), "target": .int(math.target)]
            if step > 0 {
                try book.clawback(Clawback(userID: payment.userID, amount: step, reference: reference, fromGrant: payment.grantID,
                                           kind: "clawback", metadata: metadata))
                fields["taken"] = .int(step)
            } else {
                // Given back like what was bought: same source and expiry, linked to the payment.
                var source = GrantSource.topup
                var expiry: Date?
                if let grantID = payment.grantID, let shape = try tx.query(StripeQueries.grantShape, [grantID]).first {
                    source = GrantSource(rawValue: try shape.string("source")) ?? .topup
                    expiry = try shape.optDate("expires_at")
                }
                try book.grant(NewGrant(userID: payment.userID, source: source, amount: -step, expiresAt: expiry, paymentID: payment.id,
                                        reference: reference, kind: "clawback_reversal", metadata: metadata,
                                        notification: .balanceUpdate))
                fields["given_back"] = .int(-step)
            }
            state.creditsTaken = math.target
        }
        fields["balance"] = .int(try book.balance(of: payment.userID))
        fields["debt"] = .int(try book.debt(of: payment.userID))
        try book.commit()
        try tx.query(StripeQueries.updateClawback, [chargeID, state.amountCharged, state.amountRefunded, state.disputeID, state.disputeAmount,
                                                    state.disputeStatus, state.disputeEventCreated, state.creditsTaken, state.steps])
        return .done(result(event, fields))
    }
}
