import Foundation
import Postgres
import Queue
import Support

/// `stripe.event {"event_id"}`: applies one verified Stripe event from the `stripe_events` inbox
/// (DESIGN.md, "Payments"; docs/ledger.md, "Stripe").
///
/// - Safe under duplicates: the event's row is locked and marked processed in the transaction
///   that applies it, and every grant or clawback has its own ledger reference
///   (`stripe:checkout:<session>`, `stripe:invoice:<invoice>`, `clawback:stripe:charge:<id>:<step>`).
/// - Safe in any order: subscription states keep the `created` of the last event applied and
///   ignore older ones; refunds and disputes are cumulative per charge; an event that refers to
///   something not yet recorded (a refund before its checkout) snoozes, records what it waits
///   for (the event that records it wakes it at once), and is flagged to operators
///   (`stripe_events.flagged_at`, `flag_reason`) once it has waited `TALLY_STRIPE_FLAG_AFTER`
///   (default a day).
/// - A payment for a user without an account opens the account, without the trial.
/// - Calls to the Stripe API (`STRIPE_API_BASE`, `STRIPE_SECRET_KEY`) happen before the
///   transaction, never inside it.
public struct StripeEventJob: Job {
    public struct Args: Decodable, Sendable {
        public let event_id: String
    }

    public static let kind = "stripe.event"
    public static let queue = "payments"

    public init() {}

    /// What applying an event came to inside its transaction.
    enum Outcome {
        case done(JSON)
        /// Something it refers to is not recorded yet: these keys name it.
        case waiting(keys: [String], reason: String)
    }

    /// Thrown inside the transaction to roll it back and snooze.
    struct Waiting: Error {
        let keys: [String]
        let reason: String
    }

    /// The event cannot be applied as it is (and retrying will not change that): flagged to
    /// operators and discarded; `tally jobs retry` runs it again once fixed (e.g. a product).
    struct Unresolvable: Error, CustomStringConvertible {
        let description: String
    }

    /// What the handlers looked up before the transaction (Stripe API, products).
    struct Prepared: Sendable {
        var checkoutCredits: Int64?
        var invoiceLink: (paymentIntent: String?, charge: String?)?
    }

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let eventID = args.event_id
        guard let event = try await context.pool.withConnection({ c in
            try c.query(StripeQueries.loadEvent, [eventID]).first.map(StripeEvent.init(row:))
        }) else {
            throw JobError.permanent("no event \(eventID) in stripe_events: the ingress stores each event there before enqueueing its job")
        }
        if event.processedAt != nil { return .completed(Self.duplicateResult(event)) }
        do {
            let prepared = try await prepare(event, context: context)
            return try await context.completeInTransaction { tx in
                guard let row = try tx.query(StripeQueries.lockEvent, [event.id]).first else {
                    throw JobError.permanent("stripe event \(event.id) vanished from stripe_events")
                }
                if try row.optDate("processed_at") != nil { return Self.duplicateResult(event) }
                switch try Self.apply(event, prepared: prepared, on: tx) {
                case .done(let result):
                    try tx.query(StripeQueries.markProcessed, [event.id, result])
                    return result
                case .waiting(let keys, let reason):
                    throw Waiting(keys: keys, reason: reason)
                }
            }
        } catch let waiting as Waiting {
            return try await snooze(event, waiting, context: context)
        } catch let problem as Unresolvable {
            _ = try? await context.pool.withConnection { try $0.query(StripeQueries.flag, [event.id, problem.description]) }
            Log.warn("stripe event flagged: cannot be applied", ["event_id": event.id, "type": event.type, "reason": problem.description])
            throw JobError.permanent(problem.description)
        } catch let error as ConfigurationError {
            throw JobError.permanent(error.description)
        } catch let error as LedgerError {
            throw JobError.permanent("stripe event \(event.id): \(error.description)")
        }
    }

    /// Looks up, outside any transaction, what the event needs from the Stripe API.
    func prepare(_ event: StripeEvent, context: JobContext) async throws -> Prepared {
        var prepared = Prepared()
        switch event.type {
        case "checkout.session.completed", "checkout.session.async_payment_succeeded":
            let session = event.object
            if session["mode"]?.string == "payment", session["payment_status"]?.string == "paid" {
                prepared.checkoutCredits = try await Self.checkoutCredits(session, context: context)
            }
        case "invoice.paid":
            prepared.invoiceLink = try await Self.invoicePaymentLink(event.object, context: context)
        default:
            break
        }
        return prepared
    }

    /// Applies the event inside `tx` (which holds its inbox row).
    static func apply(_ event: StripeEvent, prepared: Prepared, on tx: Connection) throws -> Outcome {
        switch event.type {
        case "checkout.session.completed", "checkout.session.async_payment_succeeded":
            return try applyCheckout(event, credits: prepared.checkoutCredits, on: tx)
        case "checkout.session.async_payment_failed":
            return try applyCheckoutFailed(event, on: tx)
        case "invoice.paid":
            return try applyInvoicePaid(event, link: prepared.invoiceLink, on: tx)
        case "invoice.payment_failed":
            return try applyInvoiceFailed(event, on: tx)
        case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted":
            return try applySubscription(event, on: tx)
        case "charge.refunded":
            return try applyRefund(event, on: tx)
        case _ where event.type.hasPrefix("charge.dispute."):
            return try applyDispute(event, on: tx)
        default:
            return .done(result(event, ["ignored": "no effect for this event type"]))
        }
    }

    // MARK: Waiting

    /// Records what the event waits for, flags it after `TALLY_STRIPE_FLAG_AFTER`, and snoozes:
    /// 5 s at first, growing with the event's age to 10 minutes (an event that records what it
    /// waits for wakes it at once anyway).
    func snooze(_ event: StripeEvent, _ waiting: Waiting, context: JobContext) async throws -> JobResult {
        let flagAfter = Int64(context.environment.duration("TALLY_STRIPE_FLAG_AFTER", default: 86400))
        let jobID = context.job.id
        let reason = waiting.reason
        let row = try await context.pool.withConnection { c in
            try c.query(StripeQueries.markWaiting, [event.id, waiting.keys, jobID, flagAfter, reason]).first
        }
        if try row?.bool("flagged_now") == true {
            Log.warn("stripe event flagged: it refers to something still not recorded",
                     ["event_id": event.id, "type": event.type, "waiting_for": waiting.keys.joined(separator: ","), "reason": reason])
        }
        let age = Date().timeIntervalSince(event.receivedAt)
        let seconds = min(max(age / 10, 5), 600)
        Log.info("stripe event waits", ["event_id": event.id, "type": event.type, "waiting_for": waiting.keys.joined(separator: ","),
                                        "retry_in_s": Int(seconds)])
        return .snooze(seconds)
    }

    // MARK: Shared pieces

    /// The account of a paying user, opened without the trial when missing.
    static func ensureAccount(_ user: String, on tx: Connection) throws {
        try Ledger.openAccount(user, openedBy: .payment, on: tx)
    }

    /// Wakes events waiting for any of `keys` (nil entries ignored).
    static func wake(_ keys: [String?], on tx: Connection) throws {
        let present = keys.compactMap { $0 }
        guard !present.isEmpty else { return }
        try tx.query(StripeQueries.wakeWaiting, [present])
    }

    static func result(_ event: StripeEvent, _ fields: [String: JSON]) -> JSON {
        var out = fields
        out["event_id"] = .string(event.id)
        out["type"] = .string(event.type)
        return .object(out)
    }

    static func duplicateResult(_ event: StripeEvent) -> JSON {
        result(event, ["duplicate": true])
    }

    /// The Stripe API client, or a permanent failure naming the missing setting.
    static func stripeClient(_ environment: Environment, purpose: String) throws -> HTTPClient {
        try HTTPClient.fromEnvironment(environment, service: "Stripe", baseSetting: "STRIPE_API_BASE",
                                       defaultBase: "https://api.stripe.com", credentialSetting: "STRIPE_SECRET_KEY", purpose: purpose)
    }
}
