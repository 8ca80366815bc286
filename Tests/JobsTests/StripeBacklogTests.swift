import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// A backlog of Stripe events (issue 10, item 1): enqueued while no worker runs, then drained by
/// two real `tally worker` processes with default settings. Before the lock-order fix, 200
/// top-ups for one user deadlocked almost every attempt. Each test asserts every event applied
/// exactly once, the balance to the credit, no attempt used twice, and PostgreSQL's own count
/// of deadlocks in the test's database (`pg_stat_database.deadlocks`, read once the workers'
/// sessions have ended and reported) at zero, as the workers' retry counter.
final class StripeBacklogTests: XCTestCase {
    static let user = "8c1f6d2e-4b7a-4e0c-9a51-3f2b7d9e6a10"

    func testAThousandTopUpsForOneUserDrainWithoutADeadlock() async throws {
        let db = try TestDatabase.create()
        let backlog = try StripeBacklog(db: db)
        let events = try (0..<1000).map { try StripeBacklog.topup(user: Self.user, n: $0) }
        try backlog.store(events)
        let seconds = try await backlog.drain(expecting: events.count)
        print("1,000 top-ups for one user drained by 2 workers in \(String(format: "%.2f", seconds)) s")

        let c = try db.connect()
        XCTAssertEqual(try LedgerFixtures.balance(Self.user, on: c), 500_000, "1,000 × 500, each once")
        XCTAssertEqual(try db.int("SELECT count(*) FROM payments WHERE user_id = $1 AND grant_id IS NOT NULL", [Self.user]), 1000)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE user_id = $1", [Self.user]), 1000)
        try backlog.assertClean()
        try LedgerFixtures.assertVerified(c)
    }

    func testFiveThousandTopUpsOverAHundredUsersDrainWithoutADeadlock() async throws {
        let db = try TestDatabase.create()
        let backlog = try StripeBacklog(db: db)
        let users = (0..<100).map { "backlog-user-\($0)" }
        let events = try (0..<5000).map { try StripeBacklog.topup(user: users[$0 % 100], n: $0) }
        try backlog.store(events)
        let seconds = try await backlog.drain(expecting: events.count)
        print("5,000 top-ups over 100 users drained by 2 workers in \(String(format: "%.2f", seconds)) s")

        XCTAssertEqual(try db.int("SELECT count(*) FROM accounts WHERE user_id LIKE 'backlog-user-%'"), 100)
        XCTAssertEqual(try db.int("""
            SELECT count(*) FROM accounts a
            WHERE (SELECT sum(remaining) FROM grants g WHERE g.user_id = a.user_id) = 25000 AND a.debt = 0
            """), 100, "every user: 50 × 500")
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries"), 5000)
        try backlog.assertClean()
        try LedgerFixtures.assertVerified(try db.connect())
    }

    /// One customer, every kind of event at once, in a shuffled order: 300 top-ups, a partial
    /// refund of 60 of them (some delivered before their checkout: they wait, then are woken),
    /// a subscription checkout, 12 paid invoices and 20 subscription updates.
    func testAMixOfEventTypesForOneCustomerDrainsWithoutADeadlock() async throws {
        let db = try TestDatabase.create()
        let backlog = try StripeBacklog(db: db)
        var events = try (0..<300).map { try StripeBacklog.topup(user: Self.user, n: $0) }
        events += try (0..<60).map { try StripeBacklog.refund(n: $0 * 5) }
        events.append(try StripeFixture.load("checkout.session.completed.subscription.json"))
        let periodEnd = Int64(Date().timeIntervalSince1970) + 30 * 86400
        events += try (0..<12).map { try StripeBacklog.invoicePaid(n: $0, periodEnd: periodEnd) }
        let update = try StripeFixture.load("customer.subscription.updated.cancel_at_period_end.json")
        let lastUpdate = update["created"]!.int64!
        events += (0..<20).map { StripeFixture.variant(update, id: "evt_backlog_sub_upd_\($0)", created: lastUpdate - 19 + Int64($0)) }
        // A fixed shuffle (the same order every run): a linear congruential generator.
        var state: UInt64 = 0x7a11_7e57
        for i in stride(from: events.count - 1, to: 0, by: -1) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            events.swapAt(i, Int((state >> 33) % UInt64(i + 1)))
        }
        try backlog.store(events)
        let seconds = try await backlog.drain(expecting: events.count, timeout: 180)
        print("\(events.count) mixed events for one customer drained by 2 workers in \(String(format: "%.2f", seconds)) s")

        let c = try db.connect()
        // Each partial refund (1,000 of 1,999) takes ceil(500 × 1000 ÷ 1999) = 251.
        let expected: Int64 = 300 * 500 - 60 * 251 + 12 * 250
        XCTAssertEqual(try LedgerFixtures.balance(Self.user, on: c), expected)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'clawback'"), 60)
        XCTAssertEqual(try db.int("SELECT count(*) FROM grants WHERE source = 'subscription'"), 12)
        XCTAssertEqual(try db.scalar("SELECT status || ':' || cancel_at_period_end FROM subscriptions"), "active:true",
                       "the newest update's state, whatever order they came in")
        XCTAssertEqual(try db.scalar("SELECT extract(epoch FROM last_event_created)::bigint FROM subscriptions"), String(lastUpdate))
        try backlog.assertClean()
        try LedgerFixtures.assertVerified(c)
    }
}

/// Stripe events stored in the inbox and enqueued on the paused `payments` queue, as the
/// ingress would have while the workers were behind; then drained by `tally worker` processes.
struct StripeBacklog {
    let db: TestDatabase
    let deadlocksBefore: Int64

    init(db: TestDatabase) throws {
        self.db = db
        try db.connect().query("INSERT INTO queues (name, paused) VALUES ('payments', true)")
        deadlocksBefore = try db.int("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
    }

    /// A top-up checkout of 500 credits, its own event, session and payment intent.
    static func topup(user: String, n: Int) throws -> JSON {
        var event = StripeFixture.variant(try StripeFixture.load("checkout.session.completed.payment_topup.json"),
                                          id: "evt_backlog_topup_\(n)", created: 1_785_748_502 + Int64(n))
        event = StripeFixture.setting(event, ["data", "object", "id"], .string("cs_backlog_\(n)"))
        event = StripeFixture.setting(event, ["data", "object", "payment_intent"], .string("pi_backlog_\(n)"))
        event = StripeFixture.setting(event, ["data", "object", "client_reference_id"], .string(user))
        return StripeFixture.setting(event, ["data", "object", "metadata", "user_id"], .string(user))
    }

    /// The partial refund (1,000 of 1,999) of top-up `n`'s charge.
    static func refund(n: Int) throws -> JSON {
        var event = StripeFixture.variant(try StripeFixture.load("charge.refunded.partial_topup.json"),
                                          id: "evt_backlog_refund_\(n)", created: 1_786_380_000 + Int64(n))
        event = StripeFixture.setting(event, ["data", "object", "id"], .string("ch_backlog_\(n)"))
        return StripeFixture.setting(event, ["data", "object", "payment_intent"], .string("pi_backlog_\(n)"))
    }

    /// A paid cycle invoice of the fixture's subscription, its line's period ending at `periodEnd`.
    static func invoicePaid(n: Int, periodEnd: Int64) throws -> JSON {
        var event = StripeFixture.variant(try StripeFixture.load("invoice.paid.subscription_cycle.json"),
                                          id: "evt_backlog_invoice_\(n)", created: 1_788_267_606 + Int64(n))
        event = StripeFixture.setting(event, ["data", "object", "id"], .string("in_backlog_\(n)"))
        var lines = event.at("data", "object", "lines", "data")!.array!
        lines[0] = StripeFixture.setting(lines[0], ["period", "end"], .int(periodEnd))
        return StripeFixture.setting(event, ["data", "object", "lines", "data"], .array(lines))
    }

    /// Stores the events and enqueues their jobs with the ingress's keys, in one transaction.
    func store(_ events: [JSON]) throws {
        let c = try db.connect()
        try c.transaction { tx in
            try tx.query("""
                INSERT INTO stripe_events (id, type, api_version, created, payload)
                SELECT e.id, e.type, e.api_version, to_timestamp(e.created), e.payload
                FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::jsonb[]) AS e(id, type, api_version, created, payload)
                """, [events.map { $0["id"]!.string! }, events.map { $0["type"]!.string! }, events.map { $0["api_version"]?.string ?? "" },
                      events.map { $0["created"]!.int64! }, events])
            let jobs = events.map { e in
                NewJob(kind: StripeEventJob.kind, args: ["event_id": .string(e["id"]!.string!)], queue: StripeEventJob.queue,
                       uniqueKey: "stripe:\(e["id"]!.string!)")
            }
            let ids = try Enqueuer().enqueue(jobs, on: tx).map(\.id)
            try tx.query("UPDATE stripe_events e SET job_id = j.id FROM unnest($1::text[], $2::bigint[]) AS j(event, id) WHERE e.id = j.event",
                         [events.map { $0["id"]!.string! }, ids])
        }
    }

    /// Starts 2 workers with default settings, resumes the queue, waits until every event is
    /// processed and every job completed, stops the workers; returns the seconds from the
    /// resume to the last job's completion (the database's clock).
    func drain(expecting count: Int, timeout: TimeInterval = 120) async throws -> Double {
        let environment = ["DATABASE_URL": db.url, "TALLY_LOG_LEVEL": "warn", "TALLY_SCHEDULER_INTERVAL": "0.2",
                           "TALLY_LEASE_RENEW": "0.5s"]
        let workers = try (1...2).map { try TallyProcess(["worker", "--id", "backlog-w\($0)"], environment: environment) }
        try await waitUntil("2 workers registered", timeout: 60) { try db.int("SELECT count(*) FROM workers") >= 2 }
        let c = try db.connect()
        let resumedAt = try c.query("UPDATE queues SET paused = false WHERE name = 'payments' RETURNING now() AS at").first!.date("at")
        try JobStore.notify(channel: Channels.control, payload: "resume:payments", on: c)
        do {
            try await waitUntil("every stripe.event job completed", timeout: timeout) {
                try db.int("SELECT count(*) FROM jobs WHERE kind = 'stripe.event' AND state = 'completed'") == Int64(count)
            }
        } catch {
            for w in workers { print(w.log.suffix(4000)) }
            print(try db.scalar("""
                SELECT string_agg(state || ' ' || n, ', ') FROM (SELECT state::text, count(*) AS n FROM jobs GROUP BY 1) s
                """) ?? "")
            throw error
        }
        // They stop (their counters flushed on the way out); their sessions end and report
        // their statistics.
        for w in workers { w.signal(SIGTERM) }
        for w in workers {
            let status = try await w.waitForExit()
            XCTAssertEqual(status, 0, w.log)
        }
        try await waitUntil("the workers' sessions ended", timeout: 30) {
            try db.int("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'tally-worker%'") == 0
        }
        let lastDone = try c.query("SELECT max(finished_at) AS at FROM jobs WHERE kind = 'stripe.event'").first!.date("at")
        return lastDone.timeIntervalSince(resumedAt)
    }

    /// Every event processed once, no job used a second attempt, no deadlock in PostgreSQL's
    /// count for this database, and no transaction rerun counted by the workers.
    func assertClean(file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try db.int("SELECT count(*) FROM stripe_events WHERE processed_at IS NULL"), 0, file: file, line: line)
        XCTAssertEqual(try db.int("SELECT count(*) FROM stripe_events WHERE flagged_at IS NOT NULL"), 0, file: file, line: line)
        let firstError = try db.scalar("SELECT errors::text FROM jobs WHERE errors <> '[]'::jsonb LIMIT 1") ?? ""
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = 'stripe.event' AND (attempt > 1 OR errors <> '[]'::jsonb)"), 0,
                       "no attempt failed: \(firstError)", file: file, line: line)
        // The sessions that could have deadlocked have all ended (the workers exited), so their
        // statistics are reported.
        let deadlocks = try db.int("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()") - deadlocksBefore
        XCTAssertEqual(deadlocks, 0, "PostgreSQL counted deadlocks in this database", file: file, line: line)
        XCTAssertEqual(try db.int("SELECT COALESCE(sum(value), 0) FROM worker_counters WHERE name = 'transaction_retries'"), 0,
                       file: file, line: line)
    }
}
