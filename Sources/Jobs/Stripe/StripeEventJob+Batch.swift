import Foundation
import JobRuntime
import Postgres
import Support

/// A backlog of Stripe events in one transaction (`BatchJob`).
///
/// Why: after an outage or a deploy, hundreds of top-ups for one user wait at once. One by one,
/// each event locks that user's account, reads every grant the earlier top-ups made, writes
/// and commits (with a NOTIFY, whose commits PostgreSQL serialises): the account's lock is the
/// bottleneck. A batch locks the account once, grants every top-up in one ledger book and
/// writes them in a few statements (issue 10; `stripe_backlog_*` in ops/bench).
///
/// Only paid top-up checkouts whose credits are known without the Stripe API take this path;
/// every other event (subscriptions, invoices, refunds, disputes, line items to read, events
/// that wait for something) is `.runAlone`: the ordinary `run` applies it right after the batch
/// commits. Lock order, as in `run` (docs/ledger.md, "Lock order"): the events' inbox rows (id
/// order), the accounts (user_id order), the users' payments and grants, the waiting keys (one
/// sorted statement for the whole batch), then the job rows (the worker's completion, id order).
extension StripeEventJob: BatchJob {
    public static var batchLimit: Int { 1000 }

    public func runBatch(_ jobs: [BatchItem<Args>], on tx: Connection, context: BatchContext) throws -> [BatchOutcome] {
        // Each event is read from Stripe's API first, which a transaction must never wait for.
        guard settings.eventSource == .webhook else { return jobs.map { _ in .runAlone } }
        return try Self.applyBatch(jobs.map(\.args.event_id), on: tx)
    }

    /// One outcome per event id, in order.
    static func applyBatch(_ eventIDs: [String], on tx: Connection) throws -> [BatchOutcome] {
        var events: [String: StripeEvent] = [:]
        for row in try tx.query(StripeQueries.lockEvents, [Array(Set(eventIDs)).sorted()]) {
            let event = try StripeEvent(row: row)
            events[event.id] = event
        }
        var outcomes = [BatchOutcome](repeating: .runAlone, count: eventIDs.count)
        // Paid top-ups this batch applies, with their positions.
        var topups: [(at: Int, checkout: TopupCheckout)] = []
        var seen: Set<String> = []
        for (i, id) in eventIDs.enumerated() {
            guard let event = events[id] else {
                outcomes[i] = .failed("no event \(id) in stripe_events: the ingress stores each event there before enqueueing its job",
                                      permanent: true)
                continue
            }
            if event.processedAt != nil || seen.contains(id) {
                outcomes[i] = .completed(duplicateResult(event))
                continue
            }
            guard let checkout = try batchableTopup(event, on: tx) else { continue }
            seen.insert(id)
            topups.append((i, checkout))
        }
        guard !topups.isEmpty else { return outcomes }

        let users = Array(Set(topups.map(\.checkout.user))).sorted()
        try Ledger.openAccounts(users, openedBy: .payment, on: tx)
        let book = LedgerBook(tx)
        // Waits for accounts another batch holds rather than deferring their events as
        // usage.record does (`mayDefer`): a backlog's batches cover the same few users, so
        // the second transaction redid most of the work (measured: 100 users, 2,800–3,300/s
        // deferring, 3,600–3,800/s waiting).
        try book.load(users)
        // The customer each user last paid with (auto top-up), after the accounts.
        var lastSession: [String: JSON] = [:]
        for t in topups { lastSession[t.checkout.user] = t.checkout.event.object }
        for (user, session) in lastSession.sorted(by: { $0.key < $1.key }) { try AutoTopup.rememberCustomer(userID: user, session: session, on: tx) }
        let recorded = try recordTopups(topups.map(\.checkout), in: book)
        try wake(recorded.flatMap(\.wakeKeys), on: tx)
        try tx.query(StripeQueries.markProcessedMany, [recorded.map(\.event.id), recorded.map(\.result)])
        for (t, topup) in zip(topups, recorded) { outcomes[t.at] = .completed(topup.result) }
        return outcomes
    }

    /// A paid top-up checkout that names its user and credits (no Stripe API call needed),
    /// else nil (the event runs alone).
    static func batchableTopup(_ event: StripeEvent, on tx: Connection) throws -> TopupCheckout? {
        guard event.type == "checkout.session.completed" || event.type == "checkout.session.async_payment_succeeded" else { return nil }
        let session = event.object
        guard session["mode"]?.string == "payment", session["payment_status"]?.string == "paid",
              let sessionID = StripeEvent.id(session), let user = checkoutUser(session), Ledger.isValidUserID(user),
              let credits = try knownCredits(session, on: tx), credits > 0, credits <= Ledger.maxCredits else { return nil }
        return TopupCheckout(event: event, session: sessionID, user: user, credits: credits)
    }
}
