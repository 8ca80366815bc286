import Foundation
import JobRuntime
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
///   transaction, never inside it. With `STRIPE_EVENT_SOURCE=api` the first is
///   `GET /v1/events/{id}`: the event applied is Stripe's copy, not the inbox's.
public struct StripeEventJob: Job {
    public struct Args: Codable, Sendable {
        public let event_id: String

        public init(event_id: String) {
            self.event_id = event_id
        }
    }

    public static let kind = "stripe.event"
    public static let queue = "payments"

    let settings: StripeSettings

    public init(settings: StripeSettings = .defaults) {
        self.settings = settings
    }

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
        guard let inboxEvent = try await context.pool.withConnection({ c in
            try c.query(StripeQueries.loadEvent, [eventID]).first.map(StripeEvent.init(row:))
        }) else {
            throw JobError.permanent("no event \(eventID) in stripe_events: the ingress stores each event there before enqueueing its job")
        }
        if inboxEvent.processedAt != nil { return .completed(Self.duplicateResult(inboxEvent)) }
        do {
            let event = settings.eventSource == .api ? try await Self.fromStripe(inboxEvent, context: context) : inboxEvent
            let prepared = try await prepare(event, context: context)
            var round = 1
            while true {
                do {
                    return try await applyInTransaction(event, prepared: prepared, context: context)
                } catch let waiting as Waiting {
                    if let result = try await waitInTransaction(event, waiting, recheck: round < Self.applyRounds, context: context) {
                        return result
                    }
                    round += 1
                }
            }
        } catch let problem as Unresolvable {
            _ = try? await context.pool.withConnection { try $0.query(StripeQueries.flag, [eventID, problem.description]) }
            Log.warn("stripe event flagged: cannot be applied", ["event_id": eventID, "type": inboxEvent.type, "reason": problem.description])
            throw JobError.permanent(problem.description)
        } catch let error as ConfigurationError {
            throw JobError.permanent(error.description)
        } catch let error as LedgerError {
            throw JobError.permanent("stripe event \(eventID): \(error.description)")
        }
    }

    /// How many times one run applies an event whose awaited record turned up while it was
    /// deciding to wait. Once is the rule (the record is committed, the next apply finds it);
    /// the bound only keeps a key that the re-check counts as recorded but `apply` does not
    /// accept (`invoice:…` for an invoice naming no user) from looping: the last round snoozes.
    static let applyRounds = 3

    /// Applies the event in one transaction that also completes the job; throws `Waiting`
    /// (rolled back, nothing written) when something it refers to is not recorded yet.
    func applyInTransaction(_ event: StripeEvent, prepared: Prepared, context: JobContext) async throws -> JobResult {
        try await context.completeInTransaction { tx in
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
        case "payment_intent.succeeded", "payment_intent.payment_failed":
            return try applyPaymentIntent(event, on: tx)
        case _ where event.type.hasPrefix("charge.dispute."):
            return try applyDispute(event, on: tx)
        default:
            return .done(result(event, ["ignored": "no effect for this event type"]))
        }
    }

    // MARK: Waiting
    //
    // The event that records an awaited thing wakes the jobs waiting for it (`wake`), but only
    // jobs already marked waiting and snoozed. So deciding to wait and recording the thing are
    // serialised per key (`lockKeys`, advisory locks held to the end of each transaction):
    //
    // - the waiting side, in ONE transaction, takes the keys' locks, looks again whether the
    //   thing is recorded (a statement after the lock sees every commit that released it) and
    //   only if not marks the event waiting and snoozes its own job row (`markSnoozed`);
    // - the recording side takes the same locks in the transaction that records the thing, in
    //   a statement before `wakeWaiting` (whose snapshot then sees a waiting side that got the
    //   locks first, its job already `scheduled`).
    //
    // Whichever gets the locks second sees the other's commit: the waiter finds the record and
    // applies at once, or the recorder finds the snoozed job and makes it due. Without this, a
    // record committed between the apply's read and the snooze was never noticed, and the
    // event slept out its snooze (up to 10 minutes).

    /// What the waiting transaction came to.
    enum WaitDecision: Equatable {
        /// Marked waiting and its job snoozed in that transaction; `flaggedNow`: it has waited
        /// `TALLY_STRIPE_FLAG_AFTER` and was flagged to operators just now.
        case snoozed(flaggedNow: Bool)
        /// Some of what it waits for was recorded meanwhile (these keys): apply it again now.
        case recorded([String])
        /// Another job of the same event applied it meanwhile.
        case processed
    }

    /// Decides, under the keys' locks, whether the event still waits; if so records what it
    /// waits for, flags it after `TALLY_STRIPE_FLAG_AFTER`, and snoozes the job in the same
    /// transaction: 5 s at first, growing with the event's age to 10 minutes (the event that
    /// records what it waits for wakes it at once anyway). Returns nil to apply again now.
    /// `recheck: false` snoozes without looking (the last round of `run`).
    func waitInTransaction(_ event: StripeEvent, _ waiting: Waiting, recheck: Bool, context: JobContext) async throws -> JobResult? {
        let flagAfter = Int64(settings.flagAfter)
        let seconds = Self.snoozeSeconds(event)
        let job = context.job
        let workerID = context.workerID
        let decision = try await context.pool.transaction { tx in
            try Self.holdWaiting(event, waiting, recheck: recheck, job: job, workerID: workerID, snooze: seconds,
                                 flagAfter: flagAfter, on: tx)
        }
        let waitingFor = waiting.keys.joined(separator: ",")
        switch decision {
        case .processed:
            return .completed(Self.duplicateResult(event))
        case .recorded(let keys):
            Log.info("stripe event: what it waits for was recorded meanwhile; applying it again",
                     ["event_id": event.id, "type": event.type, "recorded": keys.joined(separator: ",")])
            return nil
        case .snoozed(let flaggedNow):
            if flaggedNow {
                Log.warn("stripe event flagged: it refers to something still not recorded",
                         ["event_id": event.id, "type": event.type, "waiting_for": waitingFor, "reason": waiting.reason])
            }
            Log.info("stripe event waits", ["event_id": event.id, "type": event.type, "waiting_for": waitingFor,
                                            "retry_in_s": Int(seconds)])
            return .snoozedInTransaction(seconds)
        }
    }

    /// The body of the waiting transaction (`waitInTransaction`; tests run it in a transaction
    /// they hold open). Lock order: the event's row, then the keys. It takes no other lock
    /// (no account, no payment) before its job row, so it cannot deadlock with a recording
    /// transaction, which takes the keys last (`wake`).
    static func holdWaiting(_ event: StripeEvent, _ waiting: Waiting, recheck: Bool, job: ClaimedJob, workerID: String,
                            snooze seconds: TimeInterval, flagAfter: Int64, on tx: Connection) throws -> WaitDecision {
        guard let row = try tx.query(StripeQueries.lockEvent, [event.id]).first else {
            throw JobError.permanent("stripe event \(event.id) vanished from stripe_events")
        }
        if try row.optDate("processed_at") != nil { return .processed }
        try lockKeys(waiting.keys, on: tx)
        if recheck {
            // A fresh statement after the locks: it sees what a recording transaction that
            // held them committed.
            let recorded = try tx.query(StripeQueries.awaitedRecorded, [waiting.keys]).map { try $0.string("key") }
            if !recorded.isEmpty { return .recorded(recorded) }
        }
        let marked = try tx.query(StripeQueries.markWaiting, [event.id, waiting.keys, job.id, flagAfter, waiting.reason]).first
        try JobContext.markSnoozed(jobID: job.id, attempt: job.attempt, seconds: seconds, workerID: workerID, on: tx)
        return .snoozed(flaggedNow: try marked?.bool("flagged_now") == true)
    }

    /// 5 s at first, a tenth of the event's age after that, at most 10 minutes.
    static func snoozeSeconds(_ event: StripeEvent) -> TimeInterval {
        min(max(Date().timeIntervalSince(event.receivedAt) / 10, 5), 600)
    }

    /// Takes the transaction-scoped advisory locks of these waiting keys (see "Waiting"
    /// above): exclusive for the waiting side, shared for the recording side.
    static func lockKeys(_ keys: [String], shared: Bool = false, on tx: Connection) throws {
        guard !keys.isEmpty else { return }
        try tx.query(shared ? StripeQueries.shareKeys : StripeQueries.lockKeys, [keys])
    }

    // MARK: Shared pieces

    /// The account of a paying user, opened without the trial when missing, and locked: every
    /// handler calls it before it writes any row of the user's (payment, subscription,
    /// notification), so all of an event's locks come in the one order of docs/ledger.md
    /// ("Lock order"): inbox row, account, the user's rows, waiting keys, job rows.
    static func ensureAccount(_ user: String, on tx: Connection) throws {
        try Ledger.openAccount(user, openedBy: .payment, on: tx)
        try tx.query(LedgerQueries.lockAccounts, [[user]])
    }

    /// Wakes events waiting for any of `keys` (nil entries ignored). Call it in the transaction
    /// that records what the keys name, once per transaction (its locks are taken in one sorted
    /// statement), after the account and payment locks.
    static func wake(_ keys: [String?], on tx: Connection) throws {
        let present = keys.compactMap { $0 }
        guard !present.isEmpty else { return }
        // The locks in their own statement, first: wakeWaiting's snapshot is taken once they
        // are granted, so it sees a waiting transaction that held them committed (its job
        // `scheduled`); one that comes later waits for this commit and then finds the record.
        try lockKeys(present, shared: true, on: tx)
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
    /// The event as Stripe's API has it (`STRIPE_EVENT_SOURCE=api`). An id Stripe does not
    /// know, or an answer that is not that event, is `Unresolvable` (flagged: the inbox row did
    /// not come from Stripe); a failure that may pass (5xx, a timeout) is retried.
    static func fromStripe(_ inbox: StripeEvent, context: JobContext) async throws -> StripeEvent {
        let client = try stripeClient(context.environment, purpose: "re-reading event \(inbox.id) (STRIPE_EVENT_SOURCE=api)")
        let fetched: JSON
        do {
            fetched = try await client.getJSON("/v1/events/\(HTTPClient.formEncode(inbox.id))")
        } catch let error as HTTPError where !error.isRetryable {
            throw Unresolvable(description: error.status == 404
                ? "Stripe's API has no event \(inbox.id): the inbox row did not come from Stripe, so it grants nothing (STRIPE_EVENT_SOURCE=api)"
                : "reading event \(inbox.id) from Stripe's API: \(error)")
        }
        guard let event = StripeEvent(fetched: fetched, inbox: inbox) else {
            throw Unresolvable(description: "Stripe's API answered GET /v1/events/\(inbox.id) with something that is not that event")
        }
        return event
    }

    static func stripeClient(_ environment: Environment, purpose: String) throws -> HTTPClient {
        try HTTPClient.fromEnvironment(environment, service: "Stripe", baseSetting: "STRIPE_API_BASE",
                                       defaultBase: "https://api.stripe.com", credentialSetting: "STRIPE_SECRET_KEY", purpose: purpose)
    }
}
