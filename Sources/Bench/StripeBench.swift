import Foundation
import Jobs
import Postgres
import Queue
import Support

/// A backlog of Stripe top-ups drained by 2 `tally worker` processes (issue 10; docs/ledger.md,
/// "Batches and the hot account"):
/// - `stripe_backlog_one_user_per_s`: signed `checkout.session.completed` top-ups for ONE user,
///   stored in the inbox and enqueued while no worker ran (after an outage, a deploy);
/// - `stripe_backlog_100_users_per_s`: the same spread over 100 users.
/// Each checks every event processed and every user's balance to the credit.
///
/// - Parameters:
///   - fixture: a real-shaped `checkout.session.completed` event (Tests/Fixtures/stripe); each
///     copy gets its own event id, session, payment intent and user.
///   - workerQueues: the workers' `--queues`. The default `payments=4` of a worker claims 4
///     at a time, so its batches hold 4 events; a backlog drains far faster with more.
public func runStripeBench(databaseURL: String, tallyBinary: String, fixture: URL, oneUserEvents: Int = 10_000,
                           spreadEvents: Int = 20_000, workerQueues: String,
                           log: @Sendable (String) -> Void = { print($0) }) async throws -> [String: Double] {
    let template = try JSON.parse(String(contentsOf: fixture, encoding: .utf8))
    let run = Crypto.randomHex(3)
    func drain(_ label: String) -> BacklogDrain {
        BacklogDrain(databaseURL: databaseURL, tallyBinary: tallyBinary, workerQueues: workerQueues, queue: StripeEventJob.queue,
                     label: "bench-stripe-\(run)-\(label)")
    }
    let one = try await StripeBenchRun(drain: drain("one"), template: template, users: 1, events: oneUserEvents).measure()
    log(String(format: "stripe: stripe_backlog_one_user_per_s %.0f (%d top-ups for 1 user, 2 workers --queues %@, %.2f s)",
               one.rate, oneUserEvents, workerQueues, one.seconds))
    let spread = try await StripeBenchRun(drain: drain("spread"), template: template, users: 100, events: spreadEvents).measure()
    log(String(format: "stripe: stripe_backlog_100_users_per_s %.0f (%d top-ups over 100 users, 2 workers --queues %@, %.2f s)",
               spread.rate, spreadEvents, workerQueues, spread.seconds))
    return ["stripe_backlog_one_user_per_s": one.rate.rounded(), "stripe_backlog_100_users_per_s": spread.rate.rounded()]
}

struct StripeBenchRun {
    /// The workers and the queue; its label prefixes the run's events and users.
    let drain: BacklogDrain
    let template: JSON
    let users: Int
    let events: Int
    var prefix: String { drain.label }

    /// 500 credits each (the fixture's `metadata.credits`).
    static let credits: Int64 = 500

    func measure() async throws -> (rate: Double, seconds: Double) {
        let c = try Connection.connect(drain.databaseURL, applicationName: "tally-bench")
        try BacklogDrain.pause(drain.queue, on: c)
        let (first, last) = try store(on: c)
        try c.execute("ANALYZE jobs, stripe_events, accounts, payments, grants")
        let seconds = try await drain.run(first: first, last: last, jobs: events, on: c)
        let processed = try c.query("SELECT count(*) AS n FROM stripe_events WHERE id LIKE $1 AND processed_at IS NOT NULL", ["\(prefix)-%"])
            .first!.int64("n")
        let exact = try c.query("""
            SELECT count(*) AS n FROM accounts a
            WHERE a.user_id LIKE $1 AND (SELECT sum(remaining) FROM grants g WHERE g.user_id = a.user_id) = $2
            """, ["\(prefix)-%", Int64(events / users) * Self.credits]).first!.int64("n")
        guard processed == Int64(events), exact == Int64(users) else {
            throw QueueError.invalid("stripe bench: \(processed) of \(events) events processed, \(exact) of \(users) balances exact")
        }
        return (Double(events) / seconds, seconds)
    }

    /// Stores the events in the inbox and enqueues their jobs (as the ingress does), 5,000 per
    /// transaction; returns the jobs' id range.
    private func store(on c: Connection) throws -> (Int64, Int64) {
        let enqueuer = Enqueuer()
        var ids: [Int64] = []
        for start in stride(from: 0, to: events, by: 5_000) {
            let batch = (start..<min(start + 5_000, events)).map(event)
            let eventIDs = batch.map { $0["id"]?.string ?? "" }
            ids += try c.transaction { tx in
                try tx.query("""
                    INSERT INTO stripe_events (id, type, api_version, created, payload)
                    SELECT e.id, e.payload->>'type', e.payload->>'api_version', to_timestamp((e.payload->>'created')::bigint), e.payload
                    FROM unnest($1::text[], $2::jsonb[]) AS e(id, payload)
                    """, [eventIDs, batch])
                let jobs = try enqueuer.enqueue(eventIDs.map {
                    NewJob(kind: StripeEventJob.kind, args: ["event_id": .string($0)], queue: StripeEventJob.queue, uniqueKey: "stripe:\($0)")
                }, on: tx).map(\.id)
                try tx.query("UPDATE stripe_events e SET job_id = j.id FROM unnest($1::text[], $2::bigint[]) AS j(event, id) WHERE e.id = j.event",
                             [eventIDs, jobs])
                return jobs
            }
        }
        return (ids.min() ?? 0, ids.max() ?? 0)
    }

    /// Top-up `n`: its own event, session and payment intent; users round-robin.
    private func event(_ n: Int) -> JSON {
        let user = "\(prefix)-user-\(n % users)"
        guard case .object(var event) = template, case .object(var data) = event["data"] ?? [:],
              case .object(var session) = data["object"] ?? [:] else { return template }
        var metadata = session["metadata"]?.object ?? [:]
        metadata["user_id"] = .string(user)
        metadata["credits"] = .string(String(Self.credits))
        session["metadata"] = .object(metadata)
        session["id"] = .string("cs_\(prefix)_\(n)")
        session["payment_intent"] = .string("pi_\(prefix)_\(n)")
        session["client_reference_id"] = .string(user)
        data["object"] = .object(session)
        event["data"] = .object(data)
        event["id"] = .string("\(prefix)-evt-\(n)")
        return .object(event)
    }
}
