import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// Auto top-up against a real PostgreSQL, real workers and the Stripe stand-in's
/// `POST /v1/payment_intents` (DESIGN.md, "Balance alerts and auto top-up").
final class AutoTopupTests: XCTestCase {
    let user = "8c1f6d2e-4b7a-4e0c-9a51-3f2b7d9e6a10"   // the checkout fixture's client_reference_id

    /// A user who paid 500 credits by checkout (customer and payment method saved), with auto
    /// top-up of `topup_100` (100 credits for 999 cents) below 100 credits, at most `limit` cents a month.
    func start(limit: Int64 = 2000) async throws -> (TestDatabase, WorkerHarness, FakeStripe) {
        let stripe = try FakeStripe()
        stripe.savePaymentIntent("pi_3ScrTopup500Pi0001", customer: "cus_ScrW4lLetU5r1A", paymentMethod: "pm_card_visa")
        let db = try TestDatabase.create()
        try db.connect().query(LedgerQueries.setProduct, ["topup_100", Int64(100), Int64(999), nil as String?, false])
        let worker = try WorkerHarness(db, environment: stripe.environment, queues: ["default": 20, "payments": 4], cron: false)
        let paid = try await worker.finished(try StripeFixture.deliver(try StripeFixture.load("checkout.session.completed.payment_topup.json"), to: worker))
        XCTAssertEqual(paid.result?["credits"]?.int64, 500)
        let set = try await worker.finished(try worker.enqueue(AccountAutoTopupJob.kind, ["user_id": .string(user), "enabled": true, "threshold": 100,
                                                                                          "product": "topup_100", "monthly_limit_cents": .int(limit)]))
        XCTAssertEqual(set.state, "completed", "\(set.errors)")
        return (db, worker, stripe)
    }

    func charge(_ worker: WorkerHarness, units: Int64, times: Int, key: String) async throws {
        let jobs = try (0..<times).map { i in
            try worker.enqueue(UsageRecordJob.kind, ["user_id": .string(user), "agent": "default", "units": .int(units),
                                                     "idempotency_key": .string("\(key)-\(i)")])
        }
        for job in jobs { _ = try await worker.finished(job) }
    }

    func charges(_ db: TestDatabase) throws -> [String] {
        try db.connect().query("SELECT status FROM topup_charges ORDER BY created_at, id").map { try $0.string("status") }
    }

    func testRacingChargesAcrossTheThresholdMakeOnePaymentIntentAndItsCreditsArriveOnce() async throws {
        let (db, worker, stripe) = try await start()
        defer { stripe.server.stop(); Task { await worker.stop() } }
        try await charge(worker, units: 21, times: 20, key: "race")   // 500 → 80, crossing 100 once
        try await waitUntil("the top-up was requested") { try self.charges(db) == ["requested"] }
        try await waitUntil("its job finished") { try db.int("SELECT count(*) FROM jobs WHERE kind = 'topup.charge' AND state = 'completed'") == 1 }
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = 'topup.charge'"), 1, "one crossing, one charge")
        let posts = stripe.server.requests.filter { $0.method == "POST" && $0.path == "/v1/payment_intents" }
        XCTAssertEqual(posts.count, 1, "one PaymentIntent")
        let form = posts[0].bodyText
        for field in ["amount=999", "currency=usd", "customer=cus_ScrW4lLetU5r1A", "payment_method=pm_card_visa", "off_session=true", "confirm=true",
                      "metadata%5Buser_id%5D=\(user)", "metadata%5Bproduct%5D=topup_100"] {
            XCTAssertTrue(form.contains(field), "\(field) in \(form)")
        }
        let chargeID = try XCTUnwrap(try db.scalar("SELECT id FROM topup_charges"))
        XCTAssertEqual(posts[0].headers["idempotency-key"], "topup:\(chargeID)")

        // Stripe's payment_intent.succeeded grants the product's credits, once.
        let intent = try XCTUnwrap(stripe.paymentIntents.last { $0["metadata"]?["topup_charge"]?.string == chargeID })
        let event = stripe.succeededEvent(for: intent, eventID: "evt_topup_1")
        let granted = try await worker.finished(try StripeFixture.deliver(event, to: worker))
        XCTAssertEqual(granted.result?["credits"]?.int64, 100, "\(granted.errors)")
        _ = try await worker.finished(try worker.enqueue(StripeEventJob.kind, ["event_id": "evt_topup_1"], queue: "payments"))
        let c = try db.connect()
        XCTAssertEqual(try LedgerFixtures.balance(user, on: c), 180)
        XCTAssertEqual(try charges(db), ["succeeded"])
        XCTAssertEqual(try db.int("SELECT count(*) FROM notifications WHERE user_id = $1 AND type = 'topup_update'", [user]), 1)
        try LedgerFixtures.assertVerified(c)
    }

    func testTheMonthsLimitHoldsAndADeclinePausesAutoTopUp() async throws {
        let (db, worker, stripe) = try await start(limit: 999)   // one top-up a month
        defer { stripe.server.stop(); Task { await worker.stop() } }
        try await charge(worker, units: 410, times: 1, key: "a")       // 500 → 90
        try await waitUntil("the first top-up was requested") { try self.charges(db) == ["requested"] }
        let intent = try XCTUnwrap(stripe.paymentIntents.last)
        _ = try await worker.finished(try StripeFixture.deliver(stripe.succeededEvent(for: intent, eventID: "evt_topup_a"), to: worker))
        try await charge(worker, units: 100, times: 1, key: "b")       // 190 → 90: crosses again, but the month's limit is spent
        try await waitUntil("the second charge job ran") {
            try db.int("SELECT count(*) FROM jobs WHERE kind = 'topup.charge' AND state = 'completed'") == 2
        }
        let skipped = try db.scalar("SELECT result->>'skipped' FROM jobs WHERE kind = 'topup.charge' ORDER BY id DESC LIMIT 1")
        XCTAssertTrue(skipped?.contains("the month's limit") ?? false, "\(String(describing: skipped))")
        XCTAssertEqual(stripe.server.requests.filter { $0.method == "POST" }.count, 1, "nothing charged past the limit")

        // A new month's budget (a bigger limit), and the bank declines: paused, told, not retried.
        stripe.failPaymentIntents(["decline"])
        let reset = try await worker.finished(try worker.enqueue(AccountAutoTopupJob.kind, ["user_id": .string(user), "enabled": true, "threshold": 100,
                                                                                            "product": "topup_100", "monthly_limit_cents": 5000]))
        XCTAssertEqual(reset.state, "completed")
        try await charge(worker, units: 1, times: 1, key: "c")          // 90 → 89: no crossing (already below)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = 'topup.charge'"), 2)
        _ = try await worker.finished(try StripeFixture.deliver(stripe.succeededEvent(for: intent, eventID: "evt_topup_a"), to: worker))
        let c = try db.connect()
        _ = try c.transaction { try Ledger.grant(NewGrant(userID: self.user, source: .adjustment, amount: 100, reference: "admin:up"), on: $0) }  // 189
        try await charge(worker, units: 100, times: 1, key: "d")        // 189 → 89: crosses; declined
        try await waitUntil("the third charge was declined") { try self.charges(db).last == "declined" }
        XCTAssertEqual(try db.scalar("SELECT paused_reason FROM auto_topups WHERE user_id = $1", [user]), "card_declined")
        XCTAssertNil(try db.scalar("SELECT auto_topup_threshold::text FROM accounts WHERE user_id = $1", [user]), "paused until set again")
        XCTAssertEqual(try db.scalar("SELECT payload->>'reason' FROM notifications WHERE user_id = $1 AND type = 'topup_update' ORDER BY seq DESC LIMIT 1", [user]),
                       "card_declined")
        _ = try c.transaction { try Ledger.grant(NewGrant(userID: self.user, source: .adjustment, amount: 100, reference: "admin:up2"), on: $0) }
        try await charge(worker, units: 100, times: 1, key: "e")        // crosses again: paused, no charge
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = 'topup.charge'"), 3)
        try LedgerFixtures.assertVerified(c)
    }
}
