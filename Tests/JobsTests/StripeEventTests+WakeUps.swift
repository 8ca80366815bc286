import Foundation
import JobRuntime
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// A refund that arrives before its checkout waits, and the checkout wakes it. These tests put
/// the checkout's commit at each point of the refund's run where it used to be missed (the
/// refund then slept out its whole snooze) and check the refund is applied at once or its job
/// made due at once (`run_at <= now()`). No worker runs here: the test claims each job as a
/// worker would and drives the two sides' steps itself, so every interleaving is exact.
extension StripeEventTests {
    static let refundFixture = "charge.refunded.partial_topup.json"
    static let checkoutFixture = "checkout.session.completed.payment_topup.json"

    /// (a) The checkout commits after the refund's apply transaction found no payment and before
    /// it decides to wait: that decision looks again under the keys' locks, so the refund is
    /// applied in the same run, never snoozed.
    func testACheckoutCommittedBeforeTheRefundDecidesToWaitIsSeenAndTheRefundAppliedAtOnce() async throws {
        let side = try WakeSides()
        let waiting = try await side.refundWaits()

        let checkout = try await side.job.run(side.checkoutArgs, context: side.checkout)
        XCTAssertEqual(checkout.result?["credits"]?.int64, 500)

        let decided = try await side.job.waitInTransaction(side.refundEvent, waiting, recheck: true, context: side.refund)
        XCTAssertNil(decided, "the payment is there: apply again now rather than snooze")
        XCTAssertEqual(try side.jobState(), "running", "not snoozed")
        XCTAssertNil(try side.db.scalar("SELECT waiting_for::text FROM stripe_events WHERE id = $1", [side.refundEvent.id]))

        let applied = try await side.job.applyInTransaction(side.refundEvent, prepared: .init(), context: side.refund)
        XCTAssertEqual(applied.result?["taken"]?.int64, 251)
        try side.assertRefundApplied()
    }

    /// (b) The checkout commits after the refund marked itself waiting and before (as it used
    /// to be) a worker's completer wrote the snooze: the snooze is now written in the waiting
    /// transaction itself, so the checkout's wake-up finds the job `scheduled` and makes it due.
    func testACheckoutCommittedJustAfterTheRefundSnoozedMakesTheRefundDueAtOnce() async throws {
        let side = try WakeSides()
        let waiting = try await side.refundWaits()

        let snoozed = try await side.job.waitInTransaction(side.refundEvent, waiting, recheck: true, context: side.refund)
        XCTAssertEqual(snoozed, .snoozedInTransaction(5), "written already: nothing left for the worker to write later")
        XCTAssertEqual(try side.jobState(), "scheduled")
        XCTAssertEqual(try side.refundDue(), "f", "snoozed 5 s")
        XCTAssertEqual(try side.db.scalar("SELECT array_to_string(waiting_for, ',') FROM stripe_events WHERE id = $1", [side.refundEvent.id]),
                       "charge:ch_3ScrTopup500Ch0001,payment_intent:pi_3ScrTopup500Pi0001")

        _ = try await side.job.run(side.checkoutArgs, context: side.checkout)
        XCTAssertEqual(try side.jobState(), "scheduled")
        XCTAssertEqual(try side.refundDue(), "t", "woken: due now, not in 5 s")

        // A worker picks it up and applies it.
        let harness = try WorkerHarness(side.db)
        defer { Task { await harness.stop() } }
        let finished = try await harness.finished(side.refund.job.id)
        XCTAssertEqual(finished.result?["taken"]?.int64, 251)
        try side.assertRefundApplied()
    }

    /// (c) The checkout's transaction holds the keys (it recorded the payment, not committed
    /// yet) while the refund decides to wait: the refund waits for the locks, then finds the
    /// payment and its run applies it.
    func testARefundDecidingWhileTheCheckoutHoldsTheKeysWaitsForItAndApplies() async throws {
        let side = try WakeSides()
        let recorder = try side.db.connect()
        try recorder.execute("BEGIN")
        guard case .done = try StripeEventJob.apply(side.checkoutEvent, prepared: .init(checkoutCredits: 500), on: recorder) else {
            return XCTFail("the checkout applies")
        }

        let job = side.job, args = side.refundArgs, context = side.refund
        let run = Task { try await job.run(args, context: context) }
        try await side.waitForAKeyLockWaiter("the refund waits for the checkout's keys")
        try recorder.execute("COMMIT")

        let result = try await run.value
        XCTAssertEqual(result.result?["taken"]?.int64, 251, "applied in the same run")
        XCTAssertEqual(try side.jobState(), "completed")
        try side.assertRefundApplied()
    }

    /// (d) The refund's waiting transaction holds the keys (marked waiting, its job snoozed,
    /// not committed yet) while the checkout records the payment: the checkout's wake-up waits
    /// for the locks, then sees the snoozed job and makes it due.
    func testACheckoutRecordingWhileTheRefundHoldsTheKeysWakesItOnceItCommits() async throws {
        let side = try WakeSides()
        let waiting = try await side.refundWaits()
        let decider = try side.db.connect()
        try decider.execute("BEGIN")
        let decision = try StripeEventJob.holdWaiting(side.refundEvent, waiting, recheck: true, job: side.refund.job,
                                                      workerID: side.refund.workerID, snooze: 5, flagAfter: 86400, on: decider)
        XCTAssertEqual(decision, .snoozed(flaggedNow: false))

        let job = side.job, args = side.checkoutArgs, context = side.checkout
        let run = Task { try await job.run(args, context: context) }
        try await side.waitForAKeyLockWaiter("the checkout's wake-up waits for the refund's keys")
        try decider.execute("COMMIT")

        let checkout = try await run.value
        XCTAssertEqual(checkout.result?["credits"]?.int64, 500)
        XCTAssertEqual(try side.jobState(), "scheduled")
        XCTAssertEqual(try side.refundDue(), "t", "woken: due now, not in 5 s")
    }
}

/// The two sides of a wake-up on a fresh database: the refund (waits for its payment) and the
/// checkout (records it), each stored in the inbox and its stripe.event job claimed by hand.
struct WakeSides {
    let db: TestDatabase
    let job = StripeEventJob()
    let refundEvent: StripeEvent
    let refund: JobContext
    let checkoutEvent: StripeEvent
    let checkout: JobContext

    var refundArgs: StripeEventJob.Args { .init(event_id: refundEvent.id) }
    var checkoutArgs: StripeEventJob.Args { .init(event_id: checkoutEvent.id) }

    init() throws {
        db = try TestDatabase.create()
        let pool = db.pool(4)
        (refundEvent, refund) = try Self.claim(StripeEventTests.refundFixture, db: db, pool: pool, worker: "test/refund")
        (checkoutEvent, checkout) = try Self.claim(StripeEventTests.checkoutFixture, db: db, pool: pool, worker: "test/checkout")
    }

    /// Stores the event as the ingress does, enqueues its job and claims it for `worker`.
    static func claim(_ fixture: String, db: TestDatabase, pool: ConnectionPool, worker: String) throws -> (StripeEvent, JobContext) {
        let event = try StripeFixture.load(fixture)
        let id = event["id"]!.string!
        let c = try db.connect()
        try c.query("""
            INSERT INTO stripe_events (id, type, api_version, created, payload) VALUES ($1, $2, $3, to_timestamp($4::bigint), $5::jsonb)
            """, [id, event["type"]!.string!, event["api_version"]?.string, event["created"]!.int64!, event])
        let jobID = try Enqueuer().enqueue(NewJob(kind: StripeEventJob.kind, args: ["event_id": .string(id)], queue: "payments",
                                                  uniqueKey: "stripe:\(id)"), on: c).id
        try c.query("UPDATE stripe_events SET job_id = $2 WHERE id = $1", [id, jobID])
        let claimed = try XCTUnwrap(JobStore.claim(queue: "payments", limit: 1, workerID: worker, lease: .milliseconds(60_000), on: c).first)
        XCTAssertEqual(claimed.id, jobID)
        let stored = try XCTUnwrap(c.query(StripeQueries.loadEvent, [id]).first.map(StripeEvent.init(row:)))
        let context = JobContext(job: claimed, pool: pool, enqueuer: Enqueuer(), environment: Environment([:]), workerID: worker)
        return (stored, context)
    }

    /// The refund's apply transaction: no payment yet, so it rolls back waiting.
    func refundWaits() async throws -> StripeEventJob.Waiting {
        do {
            let result = try await job.applyInTransaction(refundEvent, prepared: .init(), context: refund)
            XCTFail("the refund was applied without its payment: \(result)")
            throw StripeEventJob.Unresolvable(description: "applied")
        } catch let waiting as StripeEventJob.Waiting {
            XCTAssertEqual(waiting.keys, ["charge:ch_3ScrTopup500Ch0001", "payment_intent:pi_3ScrTopup500Pi0001"])
            return waiting
        }
    }

    func jobState() throws -> String? {
        try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [refund.job.id])
    }

    /// "t" when the refund's job is due now.
    func refundDue() throws -> String? {
        try db.scalar("SELECT run_at <= now() FROM jobs WHERE id = $1", [refund.job.id])
    }

    /// Until a transaction of this database waits for an advisory lock (the waiting keys').
    func waitForAKeyLockWaiter(_ description: String) async throws {
        try await waitUntil(description) {
            try db.int("""
                SELECT count(*) FROM pg_locks
                WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """) == 1
        }
    }

    func assertRefundApplied(file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertNotNil(try db.scalar("SELECT processed_at FROM stripe_events WHERE id = $1", [refundEvent.id]), file: file, line: line)
        XCTAssertEqual(try db.scalar("SELECT credits_taken FROM clawbacks WHERE charge_id = 'ch_3ScrTopup500Ch0001'"), "251",
                       file: file, line: line)
        XCTAssertEqual(try LedgerFixtures.balance("8c1f6d2e-4b7a-4e0c-9a51-3f2b7d9e6a10", on: try db.connect()), 249, file: file, line: line)
        try LedgerFixtures.assertVerified(try db.connect())
    }
}
