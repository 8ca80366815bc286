import Foundation
import JobRuntime
import Postgres
import Support

/// checkout.session.completed / async_payment_succeeded / async_payment_failed.
extension StripeEventJob {
    /// How many credits a paid top-up checkout bought: `metadata.credits`, else the product
    /// whose Stripe price id is the session's `metadata.price_id`, else the line items' prices
    /// read from the Stripe API (`price.metadata.credits`, or the product with that price id)
    /// times their quantities.
    static func checkoutCredits(_ session: JSON, context: JobContext) async throws -> Int64 {
        if let known = try await context.pool.withConnection({ try knownCredits(session, on: $0) }) {
            guard known <= Ledger.maxCredits else {
                throw Unresolvable(description: "checkout \(StripeEvent.id(session) ?? "?"): metadata.credits \(known) is more than \(Ledger.maxCreditsText), the most one grant may hold")
            }
            return known
        }
        guard let sessionID = StripeEvent.id(session) else { throw Unresolvable(description: "the checkout session has no id") }
        let client = try stripeClient(context.environment, purpose: "reading checkout \(sessionID)'s line items (it has no metadata.credits)")
        let items: JSON
        do {
            items = try await client.getJSON("/v1/checkout/sessions/\(HTTPClient.formEncode(sessionID))/line_items",
                                             query: [("expand[]", "data.price"), ("limit", "100")])
        } catch let error as HTTPError where !error.isRetryable {
            throw Unresolvable(description: "cannot read checkout \(sessionID)'s line items: \(error)")
        }
        var total: Int64 = 0
        for item in items["data"]?.array ?? [] {
            let quantity = max(item["quantity"]?.int64 ?? 1, 1)
            let price = item["price"]
            var credits = StripeEvent.credits(price?["metadata"]?["credits"])
            if credits == nil, let priceID = StripeEvent.id(price) {
                credits = try await productCredits(stripePrice: priceID, pool: context.pool)
            }
            guard let credits else {
                throw Unresolvable(description: "checkout \(sessionID): line item price \(StripeEvent.id(price) ?? "?") has no metadata.credits and no product has that Stripe price; set one with `tally products set NAME --credits N --usd-cents C --stripe-price ID`, then `tally jobs retry` this job")
            }
            let (sum, overflow) = credits.multipliedReportingOverflow(by: quantity)
            guard !overflow, sum <= Ledger.maxCredits - total else {
                throw Unresolvable(description: "checkout \(sessionID): its line items come to more than \(Ledger.maxCreditsText) credits, the most one grant may hold")
            }
            total += sum
        }
        guard total > 0 else {
            throw Unresolvable(description: "checkout \(sessionID): no credits in metadata, products or line items")
        }
        return total
    }

    /// The credits a checkout names without the Stripe API: `metadata.credits`, else the
    /// product whose Stripe price is `metadata.price_id`. Nil: only its line items can tell.
    static func knownCredits(_ session: JSON, on c: Connection) throws -> Int64? {
        let metadata = session["metadata"]
        if let credits = StripeEvent.credits(metadata?["credits"]) { return credits }
        guard let price = metadata?["price_id"]?.string ?? metadata?["stripe_price_id"]?.string else { return nil }
        return try c.query(LedgerQueries.productByStripePrice, [price]).first?.int64("credits")
    }

    static func productCredits(stripePrice: String, pool: ConnectionPool) async throws -> Int64? {
        try await pool.withConnection { c in
            try c.query(LedgerQueries.productByStripePrice, [stripePrice]).first?.int64("credits")
        }
    }

    static func checkoutUser(_ session: JSON) -> String? {
        if let u = session["client_reference_id"]?.string, !u.isEmpty { return u }
        if let u = session["metadata"]?["user_id"]?.string, !u.isEmpty { return u }
        return nil
    }

    static func applyCheckout(_ event: StripeEvent, credits: Int64?, on tx: Connection) throws -> Outcome {
        let session = event.object
        guard let sessionID = StripeEvent.id(session) else { throw Unresolvable(description: "the checkout session has no id") }
        guard session["payment_status"]?.string == "paid" else {
            // Delayed methods complete unpaid; async_payment_succeeded follows.
            return .done(result(event, ["ignored": .string("payment_status is \(session["payment_status"]?.string ?? "missing"), not paid")]))
        }
        guard let user = checkoutUser(session) else {
            throw Unresolvable(description: "checkout \(sessionID) names no user (client_reference_id or metadata.user_id)")
        }
        try ensureAccount(user, on: tx)
        try AutoTopup.rememberCustomer(userID: user, session: session, on: tx)
        switch session["mode"]?.string {
        case "subscription":
            guard let subscription = StripeEvent.id(session["subscription"]) else {
                throw Unresolvable(description: "subscription checkout \(sessionID) has no subscription")
            }
            try tx.query(StripeQueries.recordSubscription, [subscription, user, session["metadata"]?["price_id"]?.string])
            try wake(["subscription:\(subscription)"], on: tx)
            return .done(result(event, ["user_id": .string(user), "subscription": .string(subscription)]))
        case "payment":
            guard let credits else { throw Unresolvable(description: "checkout \(sessionID): credits unknown") }
            let book = LedgerBook(tx)
            try book.load([user])
            let topup = try recordTopups([TopupCheckout(event: event, session: sessionID, user: user, credits: credits)], in: book)[0]
            try wake(topup.wakeKeys, on: tx)
            return .done(topup.result)
        default:
            return .done(result(event, ["ignored": .string("checkout mode \(session["mode"]?.string ?? "missing")")]))
        }
    }

    /// A delayed payment failed: recorded, the user told, no credits.
    static func applyCheckoutFailed(_ event: StripeEvent, on tx: Connection) throws -> Outcome {
        let session = event.object
        guard let sessionID = StripeEvent.id(session) else { throw Unresolvable(description: "the checkout session has no id") }
        guard let user = checkoutUser(session) else {
            throw Unresolvable(description: "checkout \(sessionID) names no user (client_reference_id or metadata.user_id)")
        }
        try ensureAccount(user, on: tx)
        let amount = StripeEvent.amount(session["amount_total"]) ?? 0
        let currency = session["currency"]?.string ?? "usd"
        let inserted = try tx.query(StripeQueries.insertCheckoutPayment,
                                    [user, "failed", sessionID, StripeEvent.id(session["payment_intent"]), amount, currency, Int64(0), event.id])
        if inserted.count == 1 {
            try Inbox.write([InboxItem(userID: user, type: .paymentFailed, payload: [
                "checkout_session": .string(sessionID), "amount": .int(amount), "currency": .string(currency),
                "reason": "async_payment_failed",
            ])], on: tx)
        }
        return .done(result(event, ["user_id": .string(user), "payment_failed": true]))
    }

    /// A paid top-up checkout to record: its event, session, user and credits.
    struct TopupCheckout {
        let event: StripeEvent
        let session: String
        let user: String
        let credits: Int64
    }

    /// A top-up as recorded: the waiting keys it answers and the job's result.
    struct Topup {
        let event: StripeEvent
        let wakeKeys: [String?]
        let result: JSON
    }

    /// Records paid top-up checkouts (their payments, one grant each, the payments linked to
    /// their grants) in `book`, whose accounts the caller has loaded (locked), and commits it.
    /// One event (`run`) or a batch (`runBatch`): the same statements, as many round trips.
    static func recordTopups(_ checkouts: [TopupCheckout], in book: LedgerBook) throws -> [Topup] {
        let tx = book.connection
        let sessions = checkouts.map(\.event.object)
        let rows = try tx.query(StripeQueries.recordCheckoutPayments, [
            checkouts.map(\.user), checkouts.map(\.session), sessions.map { StripeEvent.id($0["payment_intent"]) },
            sessions.map { StripeEvent.amount($0["amount_total"]) ?? 0 }, sessions.map { $0["currency"]?.string ?? "usd" },
            checkouts.map(\.credits), checkouts.map(\.event.id),
        ])
        guard rows.count == checkouts.count else { throw Unresolvable(description: "top-up payments: \(rows.count) rows for \(checkouts.count)") }
        try book.reserveGrantIDs(checkouts.count)
        try book.prefetch(references: checkouts.map { "stripe:checkout:\($0.session)" })
        var topups: [Topup] = []
        var links: (payments: [Int64], grants: [Int64]) = ([], [])
        for (checkout, row) in zip(checkouts, rows) {
            guard let paymentID = try row.optInt64("id") else {
                // Its payment intent is recorded under another checkout: nothing Tally can fix.
                throw Unresolvable(description: "checkout \(checkout.session): its payment could not be recorded")
            }
            let session = checkout.event.object
            let paymentIntent = StripeEvent.id(session["payment_intent"])
            let amount = StripeEvent.amount(session["amount_total"]) ?? 0
            let currency = session["currency"]?.string ?? "usd"
            let change = try book.grant(NewGrant(
                userID: checkout.user, source: .topup, amount: checkout.credits, paymentID: paymentID,
                reference: "stripe:checkout:\(checkout.session)",
                metadata: ["event_id": .string(checkout.event.id), "checkout_session": .string(checkout.session),
                           "payment_intent": .optional(paymentIntent), "amount": .int(amount), "currency": .string(currency)]))
            if let grantID = change?.grantID {
                links.payments.append(paymentID)
                links.grants.append(grantID)
            }
            let balance = try change?.balance ?? book.balance(of: checkout.user)
            // Refunds and disputes wait for a payment intent (or its charge); nothing waits
            // for a checkout session by its id.
            topups.append(Topup(event: checkout.event, wakeKeys: [paymentIntent.map { "payment_intent:\($0)" }],
                                result: result(checkout.event, ["user_id": .string(checkout.user), "credits": .int(checkout.credits),
                                                                "granted": .bool(change != nil), "balance": .int(balance),
                                                                "payment_id": .int(paymentID)])))
        }
        try book.commit()
        if !links.payments.isEmpty { try tx.query(StripeQueries.setPaymentGrants, [links.payments, links.grants]) }
        return topups
    }
}
