import Foundation
import JobRuntime
import Postgres
import Support

/// `topup.charge {"user_id", "charge_id"}` (enqueued by the ledger book in the transaction
/// that took the balance below the auto top-up threshold; queue payments): checks, under the
/// account's lock, that auto top-up is on and the month's limit allows the product's price,
/// records the charge, and asks Stripe for an off-session PaymentIntent (`POST
/// /v1/payment_intents`, `Idempotency-Key: topup:<charge_id>`, outside any transaction). The
/// credits come with `payment_intent.succeeded`. A decline or `authentication_required` pauses
/// auto top-up and tells the user (`topup_update`); nothing is charged twice.
public struct TopupChargeJob: Job {
    public struct Args: Codable, Sendable {
        public let user_id: String
        public let charge_id: String

        public init(user_id: String, charge_id: String) {
            self.user_id = user_id
            self.charge_id = charge_id
        }
    }

    public static let kind = "topup.charge"
    public static let queue = "payments"

    public init() {}

    /// What the transaction decided.
    enum Plan: Sendable {
        case skip(String)
        case charge(customer: String, paymentMethod: String?, paymentIntent: String?, amountCents: Int64, product: String)
        case done(JSON)
    }

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        guard PrefixedID.isValid(args.charge_id, prefix: "topup_") else { throw JobError.permanent("charge_id must be topup_ and 24 hex digits") }
        let plan = try await context.pool.transaction { tx in try Self.plan(args, on: tx) }
        switch plan {
        case .skip(let reason): return .completed(["charge_id": .string(args.charge_id), "skipped": .string(reason)])
        case .done(let result): return .completed(result)
        case .charge(let customer, var method, let savedIntent, let amount, let product):
            let client = try StripeEventJob.stripeClient(context.environment, purpose: "charging auto top-up \(args.charge_id)")
            if method == nil, let savedIntent {
                let intent = try? await client.getJSON("/v1/payment_intents/\(HTTPClient.formEncode(savedIntent))")
                method = intent.flatMap { StripeEvent.id($0["payment_method"]) }
                if let method { try await context.pool.withConnection { try $0.query(AutoTopupQueries.savePaymentMethod, [args.user_id, method]) } }
            }
            guard let method else {
                return try await end(args, status: "declined", reason: "no saved payment method (pay once by checkout first)", intent: nil, context: context)
            }
            let answer = try await client.exchangeForm("/v1/payment_intents", fields: [
                ("amount", String(amount)), ("currency", "usd"), ("customer", customer), ("payment_method", method),
                ("off_session", "true"), ("confirm", "true"), ("metadata[user_id]", args.user_id), ("metadata[product]", product),
                ("metadata[topup_charge]", args.charge_id),
            ], idempotencyKey: "topup:\(args.charge_id)")
            let body = (try? JSON.parse(answer.body)) ?? .null
            if answer.status == 402 {
                // A card error: declined, or the bank wants the customer present.
                let code = body["error"]?["code"]?.string ?? "card_declined"
                return try await end(args, status: "declined", reason: code, intent: StripeEvent.id(body["error"]?["payment_intent"]), context: context)
            }
            guard (200..<300).contains(answer.status) else {
                // Stripe is down or refused the request: retried (the idempotency key makes a
                // retry the same request).
                throw HTTPError(service: "Stripe", method: "POST", path: "/v1/payment_intents", status: answer.status,
                                detail: String(decoding: answer.body.prefix(300), as: UTF8.self))
            }
            let id = StripeEvent.id(body["id"])
            if body["status"]?.string == "requires_action" {
                return try await end(args, status: "declined", reason: "authentication_required", intent: id, context: context)
            }
            return try await context.completeInTransaction { tx in
                try tx.query(AutoTopupQueries.chargeRequested, [args.charge_id, id])
                return ["charge_id": .string(args.charge_id), "status": "requested", "payment_intent": .optional(id)]
            }
        }
    }

    /// Under the account's lock: whether to charge, and what.
    static func plan(_ args: Args, on tx: Connection) throws -> Plan {
        let book = LedgerBook(tx)
        try book.load([args.user_id])
        guard book.hasAccount(args.user_id) else { return .skip("no account") }
        if let existing = try tx.query(AutoTopupQueries.charge, [args.charge_id]).first {
            let status = try existing.string("status")
            guard status == "requested", try existing.optString("payment_intent_id") == nil else {
                return .done(["charge_id": .string(args.charge_id), "status": .string(status)])
            }
        }
        guard let s = try tx.query(AutoTopupQueries.lockSetting, [args.user_id]).first, try s.bool("enabled") else { return .skip("auto top-up is off") }
        if let paused = try s.optString("paused_reason") { return .skip("paused: \(paused)") }
        guard let customer = try s.optString("customer") else { return .skip("no saved customer (pay once by checkout first)") }
        guard let product = try s.optString("product"), let cents = try s.optInt64("usd_cents"), let credits = try s.optInt64("credits"), cents > 0 else {
            return .skip("the product has no price")
        }
        if try tx.query(AutoTopupQueries.charge, [args.charge_id]).first == nil {
            let month = try s.date("month")
            let spent = try tx.query(AutoTopupQueries.monthSpent, [args.user_id, month]).first?.int64("spent") ?? 0
            let limit = try s.int64("monthly_limit_cents")
            guard spent + cents <= limit else { return .skip("the month's limit (\(limit) cents; \(spent) spent)") }
            try tx.query(AutoTopupQueries.insertCharge, [args.charge_id, args.user_id, product, cents, credits, month])
        }
        return .charge(customer: customer, paymentMethod: try s.optString("payment_method"), paymentIntent: try s.optString("payment_intent"),
                       amountCents: cents, product: product)
    }

    /// A charge that will not happen: recorded, auto top-up paused, the user told.
    func end(_ args: Args, status: String, reason: String, intent: String?, context: JobContext) async throws -> JobResult {
        try await context.completeInTransaction { tx in
            let book = LedgerBook(tx)
            try book.load([args.user_id])
            _ = try tx.query(AutoTopupQueries.chargeEnded, [args.charge_id, status, reason, intent])
            try tx.query(AutoTopupQueries.pause, [args.user_id, reason])
            try Inbox.write([InboxItem(userID: args.user_id, type: .topupUpdate,
                                       payload: ["charge_id": .string(args.charge_id), "status": .string(status), "reason": .string(reason),
                                                 "paused": true])], on: tx)
            return ["charge_id": .string(args.charge_id), "status": .string(status), "reason": .string(reason)]
        }
    }
}
