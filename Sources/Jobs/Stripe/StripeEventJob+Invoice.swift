import Foundation
import JobRuntime
import Postgres
import Support

/// invoice.paid / invoice.payment_failed.
extension StripeEventJob {
    /// The subscription an invoice belongs to: `parent.subscription_details.subscription`
    /// (API versions since 2025-03-31), the older top-level `subscription`, or a line's.
    static func invoiceSubscription(_ invoice: JSON) -> String? {
        if let s = StripeEvent.id(invoice.at("parent", "subscription_details", "subscription")) { return s }
        if let s = StripeEvent.id(invoice["subscription"]) { return s }
        for line in invoice.at("lines", "data")?.array ?? [] {
            if let s = StripeEvent.id(line.at("parent", "subscription_item_details", "subscription")) { return s }
            if let s = StripeEvent.id(line["subscription"]) { return s }
        }
        return nil
    }

    /// The user: the subscription's recorded user, else the metadata Stripe snapshots on the
    /// invoice (`parent.subscription_details.metadata.user_id`, older `subscription_details`,
    /// the invoice's own metadata).
    static func invoiceUser(_ invoice: JSON, subscription: String?, on tx: Connection) throws -> String? {
        if let subscription, let row = try tx.query(StripeQueries.subscriptionUser, [subscription]).first {
            return try row.string("user_id")
        }
        for candidate in [invoice.at("parent", "subscription_details", "metadata", "user_id"),
                          invoice.at("subscription_details", "metadata", "user_id"), invoice.at("metadata", "user_id")] {
            if let u = candidate?.string, !u.isEmpty { return u }
        }
        return nil
    }

    /// The payment intent or charge that paid the invoice: top-level fields (before basil),
    /// the `payments` list when expanded, else — basil invoices carry neither — the Stripe API's
    /// invoice payments, when `STRIPE_SECRET_KEY` is set (without it the invoice is recorded
    /// unlinked, and a later refund of it waits and is flagged).
    static func invoicePaymentLink(_ invoice: JSON, context: JobContext) async throws -> (paymentIntent: String?, charge: String?) {
        var link = embeddedPaymentLink(invoice)
        guard link.paymentIntent == nil && link.charge == nil, let invoiceID = StripeEvent.id(invoice),
              context.environment["STRIPE_SECRET_KEY"] != nil else { return link }
        let client = try stripeClient(context.environment, purpose: "finding the payment of invoice \(invoiceID)")
        do {
            let list = try await client.getJSON("/v1/invoice_payments", query: [("invoice", invoiceID), ("status", "paid"), ("limit", "10")])
            for payment in list["data"]?.array ?? [] {
                link.paymentIntent = link.paymentIntent ?? StripeEvent.id(payment.at("payment", "payment_intent"))
                link.charge = link.charge ?? StripeEvent.id(payment.at("payment", "charge"))
            }
        } catch let error as HTTPError where !error.isRetryable {
            Log.warn("could not read the invoice's payments; recording it without them", ["invoice": invoiceID, "error": error])
        }
        return link
    }

    static func embeddedPaymentLink(_ invoice: JSON) -> (paymentIntent: String?, charge: String?) {
        var pi = StripeEvent.id(invoice["payment_intent"])
        var charge = StripeEvent.id(invoice["charge"])
        for payment in invoice.at("payments", "data")?.array ?? [] {
            pi = pi ?? StripeEvent.id(payment.at("payment", "payment_intent"))
            charge = charge ?? StripeEvent.id(payment.at("payment", "charge"))
        }
        return (pi, charge)
    }

    /// The end of the period the invoice's subscription lines pay for (not the invoice's own
    /// top-level period, which is the previous one), and the price they bill.
    static func invoiceLinePeriod(_ invoice: JSON) -> (end: Date?, price: String?, quantity: Int64) {
        var end: Date?
        var price: String?
        var quantity: Int64 = 1
        for line in invoice.at("lines", "data")?.array ?? [] {
            guard let lineEnd = StripeEvent.time(line.at("period", "end")) else { continue }
            if end == nil || lineEnd > end! {
                end = lineEnd
                price = StripeEvent.id(line.at("pricing", "price_details", "price")) ?? StripeEvent.id(line["price"])
                    ?? StripeEvent.id(line["plan"])
                quantity = max(line["quantity"]?.int64 ?? 1, 1)
            }
        }
        return (end, price, quantity)
    }

    /// The month's credits: the monthly product whose Stripe price the line bills, else the
    /// `monthly` product.
    static func subscriptionCredits(price: String?, on tx: Connection) throws -> Int64 {
        if let price, let row = try tx.query(LedgerQueries.productByStripePrice, [price]).first, try row.bool("monthly") {
            return try row.int64("credits")
        }
        guard let row = try tx.query(LedgerQueries.productByName, ["monthly"]).first else {
            throw Unresolvable(description: "no product for subscription price \(price ?? "?") and no `monthly` product; add one with `tally products set monthly --credits 250 --usd-cents 999 --monthly`")
        }
        return try row.int64("credits")
    }

    /// The invoice's id, subscription and user (whose account is opened if missing); throws
    /// `Waiting` while neither the subscription nor the invoice names its user.
    static func invoiceParty(_ invoice: JSON, on tx: Connection) throws -> (id: String, subscription: String?, user: String) {
        guard let invoiceID = StripeEvent.id(invoice) else { throw Unresolvable(description: "the invoice has no id") }
        let subscription = invoiceSubscription(invoice)
        guard let user = try invoiceUser(invoice, subscription: subscription, on: tx) else {
            throw Waiting(keys: [subscription.map { "subscription:\($0)" } ?? "invoice:\(invoiceID)"],
                          reason: "invoice \(invoiceID): its subscription \(subscription ?? "?") and user are not recorded yet")
        }
        try ensureAccount(user, on: tx)
        return (invoiceID, subscription, user)
    }

    static func applyInvoicePaid(_ event: StripeEvent, link: (paymentIntent: String?, charge: String?)?, on tx: Connection) throws -> Outcome {
        let invoice = event.object
        let (invoiceID, subscription, user) = try invoiceParty(invoice, on: tx)
        let reason = invoice["billing_reason"]?.string ?? ""
        let grants = reason == "subscription_create" || reason == "subscription_cycle"
        let period = invoiceLinePeriod(invoice)
        var credits: Int64 = 0
        if grants {
            let (total, overflow) = try subscriptionCredits(price: period.price, on: tx).multipliedReportingOverflow(by: period.quantity)
            guard !overflow, total <= Ledger.maxCredits else {
                throw Unresolvable(description: "invoice \(invoiceID): credits × quantity \(period.quantity) is more than \(Ledger.maxCreditsText) credits, the most one grant may hold")
            }
            credits = total
            guard period.end != nil else {
                throw Unresolvable(description: "invoice \(invoiceID) has no line with a period: cannot tell when its credits expire")
            }
        }
        let paidLink = link ?? embeddedPaymentLink(invoice)
        let amount = StripeEvent.amount(invoice["amount_paid"]) ?? 0
        let currency = invoice["currency"]?.string ?? "usd"
        var row = try tx.query(StripeQueries.insertInvoicePayment, [user, invoiceID, subscription, paidLink.paymentIntent, paidLink.charge,
                                                                    amount, currency, credits, event.id]).first
        if row == nil {
            row = try tx.query(StripeQueries.paymentByInvoice, [invoiceID]).first
            if let row { try tx.query(StripeQueries.linkPayment, [try row.int64("id"), paidLink.paymentIntent, paidLink.charge]) }
        }
        guard let row else { throw Unresolvable(description: "invoice \(invoiceID): its payment could not be recorded") }
        let paymentID = try row.int64("id")

        var fields: [String: JSON] = ["user_id": .string(user), "invoice": .string(invoiceID), "billing_reason": .string(reason)]
        let book = LedgerBook(tx)
        try book.load([user])
        var newGrant: Int64?
        if grants, let end = period.end {
            let change = try book.grant(NewGrant(
                userID: user, source: .subscription, amount: credits, expiresAt: end, paymentID: paymentID,
                reference: "stripe:invoice:\(invoiceID)",
                metadata: ["event_id": .string(event.id), "invoice": .string(invoiceID), "subscription": .optional(subscription),
                           "billing_reason": .string(reason), "period_end": .string(Timestamp.iso8601(end))]))
            newGrant = change?.grantID
            fields["credits"] = .int(credits)
            fields["granted"] = .bool(change != nil)
            fields["expires_at"] = .string(Timestamp.iso8601(end))
        } else {
            fields["credits"] = 0
            fields["note"] = .string("billing_reason \(reason) grants no credits")
        }
        fields["balance"] = .int(try book.balance(of: user))
        try book.commit()
        if let newGrant { try tx.query(StripeQueries.setPaymentGrant, [paymentID, newGrant]) }
        if let subscription {
            let status = try tx.query(StripeQueries.subscriptionPaid, [subscription, user, period.end, event.created]).first?.string("status")
            fields["subscription"] = .string(subscription)
            fields["subscription_status"] = .optional(status)
        }
        try wake([paidLink.paymentIntent.map { "payment_intent:\($0)" }, paidLink.charge.map { "charge:\($0)" }, "invoice:\(invoiceID)",
                  subscription.map { "subscription:\($0)" }], on: tx)
        return .done(result(event, fields))
    }

    /// A renewal failed: the subscription is past due (unless a newer event says otherwise) and
    /// the user is told.
    static func applyInvoiceFailed(_ event: StripeEvent, on tx: Connection) throws -> Outcome {
        let invoice = event.object
        let (invoiceID, subscription, user) = try invoiceParty(invoice, on: tx)
        var status: String?
        if let subscription {
            status = try tx.query(StripeQueries.markPastDue, [subscription, user, event.created]).first?.string("status")
            // The subscription and its user are recorded now (if they were not): an invoice.paid
            // waiting for them can be applied.
            try wake(["subscription:\(subscription)"], on: tx)
        }
        try Inbox.write([InboxItem(userID: user, type: .paymentFailed, payload: [
            "invoice": .string(invoiceID), "subscription": .optional(subscription),
            "amount_due": .int(StripeEvent.amount(invoice["amount_due"]) ?? 0), "currency": .string(invoice["currency"]?.string ?? "usd"),
            "attempt_count": .int(invoice["attempt_count"]?.int64 ?? 0),
            "next_payment_attempt": .optional(StripeEvent.time(invoice["next_payment_attempt"]).map(Timestamp.iso8601)),
        ])], on: tx)
        return .done(result(event, ["user_id": .string(user), "invoice": .string(invoiceID), "subscription": .optional(subscription),
                                    "past_due": .bool(status == "past_due")]))
    }
}
