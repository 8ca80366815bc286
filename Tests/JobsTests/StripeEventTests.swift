import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// stripe.event through a real worker pool, from events stored in the inbox the way the
/// ingress stores them (the fixtures are real basil shapes). The signed-webhook half of these
/// flows is the ingress's; these start where its transaction ends.
final class StripeEventTests: XCTestCase {
    let user = "8c1f6d2e-4b7a-4e0c-9a51-3f2b7d9e6a10"

    func testATopUpDeliveredThreeTimesGrantsItsCreditsOnce() async throws {
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db)
        defer { Task { await harness.stop() } }
        let event = try StripeFixture.load("checkout.session.completed.payment_topup.json")
        let first = try StripeFixture.deliver(event, to: harness)
        XCTAssertEqual(try StripeFixture.deliver(event, to: harness), first, "a redelivery is the same job")
        // Duplicates that got past the job key (a key pruned long ago): still applied once.
        let extra = [try harness.enqueue(StripeEventJob.kind, ["event_id": .string(event["id"]!.string!)], queue: "payments"),
                     try harness.enqueue(StripeEventJob.kind, ["event_id": .string(event["id"]!.string!)], queue: "payments")]
        let result = try await harness.finished(first)
        XCTAssertEqual(result.state, "completed")
        XCTAssertEqual(result.result?["credits"]?.int64, 500)
        for id in extra {
            let f1 = try await harness.finished(id)
            XCTAssertEqual(f1.state, "completed")
        }

        let c = try db.connect()
        XCTAssertEqual(try LedgerFixtures.balance(user, on: c), 500, "+500 once; no trial for an account a payment opened")
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE user_id = $1", [user]), 1)
        XCTAssertEqual(try db.scalar("SELECT opened_by FROM accounts WHERE user_id = $1", [user]), "payment")
        XCTAssertEqual(try db.scalar("SELECT source || ':' || amount || ':' || COALESCE(expires_at::text, 'never') FROM grants WHERE user_id = $1", [user]),
                       "topup:500:never")
        XCTAssertEqual(try db.int("SELECT count(*) FROM payments WHERE payment_intent_id = 'pi_3ScrTopup500Pi0001' AND grant_id IS NOT NULL"), 1)
        XCTAssertEqual(try db.int("SELECT count(*) FROM notifications WHERE user_id = $1 AND type = 'transaction_complete'", [user]), 1)
        XCTAssertNotNil(try db.scalar("SELECT processed_at FROM stripe_events WHERE id = $1", [event["id"]!.string!]))
        try LedgerFixtures.assertVerified(c)
    }

    func testSubscriptionInvoicesGrantTheMonthExpiringAtTheLinesPeriodEnd() async throws {
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db)
        defer { Task { await harness.stop() } }
        let checkout = try StripeFixture.load("checkout.session.completed.subscription.json")
        let f2 = try await harness.finished(try StripeFixture.deliver(checkout, to: harness))
        XCTAssertEqual(f2.state, "completed")
        XCTAssertEqual(try db.scalar("SELECT user_id FROM subscriptions WHERE id = 'sub_1ScrSubA1b2C3d4E5f6G7h8'"), user)

        // The fixtures' periods are in the past of this clock: the create invoice as it is ...
        let create = try StripeFixture.load("invoice.paid.subscription_create.json")
        let created = try await harness.finished(try StripeFixture.deliver(create, to: harness))
        XCTAssertEqual(created.result?["credits"]?.int64, 250)
        XCTAssertEqual(try db.scalar("SELECT extract(epoch FROM expires_at)::bigint FROM grants WHERE source = 'subscription'"), "1788264000",
                       "the line's period end, not the invoice's top-level period_end (1785585600)")
        // ... and the cycle invoice moved into the future, so the grant can be spent now.
        let end = Int64(Date().timeIntervalSince1970) + 30 * 86400
        var cycle = try StripeFixture.load("invoice.paid.subscription_cycle.json")
        var lines = cycle.at("data", "object", "lines", "data")!.array!
        lines[0] = StripeFixture.setting(lines[0], ["period", "end"], .int(end))
        cycle = StripeFixture.setting(cycle, ["data", "object", "lines", "data"], .array(lines))
        let cycled = try await harness.finished(try StripeFixture.deliver(cycle, to: harness))
        XCTAssertEqual(cycled.state, "completed")
        XCTAssertEqual(cycled.result?["expires_at"]?.string, Timestamp.iso8601(Date(timeIntervalSince1970: TimeInterval(end))))
        let c = try db.connect()
        XCTAssertEqual(try LedgerFixtures.balance(user, on: c), 250, "+250 spendable until the line's period end; the first month's grant expired")
        XCTAssertEqual(try db.int("SELECT count(*) FROM grants WHERE source = 'subscription' AND amount = 250"), 2)
        XCTAssertEqual(try db.int("SELECT count(*) FROM payments WHERE kind = 'invoice' AND grant_id IS NOT NULL"), 2)
        XCTAssertEqual(try db.scalar("SELECT extract(epoch FROM current_period_end)::bigint FROM subscriptions"), String(end))
        try LedgerFixtures.assertVerified(c)
    }

    func testAFailedPaymentMakesTheSubscriptionPastDueAndALaterPaymentClearsIt() async throws {
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db)
        defer { Task { await harness.stop() } }
        let f3 = try await harness.finished(try StripeFixture.deliver(
            try StripeFixture.load("checkout.session.completed.subscription.json"), to: harness))
        XCTAssertEqual(f3.state, "completed")
        let failed = try StripeFixture.load("invoice.payment_failed.json")
        let result = try await harness.finished(try StripeFixture.deliver(failed, to: harness))
        XCTAssertEqual(result.result?["past_due"]?.bool, true)
        XCTAssertEqual(try db.scalar("SELECT status FROM subscriptions"), "past_due")
        let note = try XCTUnwrap(db.connect().query("SELECT payload FROM notifications WHERE user_id = $1 AND type = 'payment_failed'", [user]).first)
        XCTAssertEqual(try note.json("payload")["invoice"]?.string, "in_1ScrInvSubCycle00002")

        // The retry succeeds a day later: invoice.paid (a later event) clears past_due.
        var paid = StripeFixture.variant(try StripeFixture.load("invoice.paid.subscription_cycle.json"), id: "evt_retry_paid", created: 1_790_946_000)
        paid = StripeFixture.setting(paid, ["data", "object", "id"], "in_1ScrInvSubCycle00002")
        let f4 = try await harness.finished(try StripeFixture.deliver(paid, to: harness))
        XCTAssertEqual(f4.result?["subscription_status"]?.string, "active")
        // The failure delivered again late (a new event id, its old time) changes nothing.
        let late = StripeFixture.variant(failed, id: "evt_failed_late", created: failed["created"]!.int64!)
        let f5 = try await harness.finished(try StripeFixture.deliver(late, to: harness))
        XCTAssertEqual(f5.state, "completed")
        XCTAssertEqual(try db.scalar("SELECT status FROM subscriptions"), "active")
    }

    func testAnOlderSubscriptionUpdateAfterANewerOneChangesNothing() async throws {
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db)
        defer { Task { await harness.stop() } }
        let newer = try StripeFixture.load("customer.subscription.updated.cancel_at_period_end.json")
        let f6 = try await harness.finished(try StripeFixture.deliver(newer, to: harness))
        XCTAssertEqual(f6.result?["applied"]?.bool, true)
        func state() throws -> String? {
            try db.scalar("SELECT status || ':' || cancel_at_period_end || ':' || extract(epoch FROM current_period_end)::bigint FROM subscriptions")
        }
        XCTAssertEqual(try state(), "active:true:1790856000", "period end from items.data[] (basil)")

        var older = StripeFixture.variant(newer, id: "evt_sub_older", created: newer["created"]!.int64! - 3600)
        older = StripeFixture.setting(older, ["data", "object", "cancel_at_period_end"], false)
        older = StripeFixture.setting(older, ["data", "object", "status"], "past_due")
        let result = try await harness.finished(try StripeFixture.deliver(older, to: harness))
        XCTAssertEqual(result.state, "completed")
        XCTAssertEqual(result.result?["applied"]?.bool, false)
        XCTAssertEqual(try state(), "active:true:1790856000", "the older event changed nothing")

        let deleted = try StripeFixture.load("customer.subscription.deleted.json")
        let f7 = try await harness.finished(try StripeFixture.deliver(deleted, to: harness))
        XCTAssertEqual(f7.result?["status"]?.string, "canceled")
        let revived = StripeFixture.variant(newer, id: "evt_sub_after_delete", created: deleted["created"]!.int64! + 10)
        _ = try await harness.finished(try StripeFixture.deliver(revived, to: harness))
        XCTAssertEqual(try db.scalar("SELECT status FROM subscriptions"), "canceled", "a canceled subscription stays canceled")
    }

    func testARefundDeliveredBeforeItsCheckoutIsAppliedOnceTheCheckoutArrives() async throws {
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db)
        defer { Task { await harness.stop() } }
        let refund = try StripeFixture.load("charge.refunded.partial_topup.json")
        let refundJob = try StripeFixture.deliver(refund, to: harness)
        try await waitUntil("the refund snoozes, waiting for its payment") {
            try harness.state(refundJob) == "scheduled"
                && (try db.scalar("SELECT array_to_string(waiting_for, ',') FROM stripe_events WHERE id = $1", [refund["id"]!.string!]))
                    == "charge:ch_3ScrTopup500Ch0001,payment_intent:pi_3ScrTopup500Pi0001"
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries"), 0)

        _ = try StripeFixture.deliver(try StripeFixture.load("checkout.session.completed.payment_topup.json"), to: harness)
        let applied = try await harness.finished(refundJob, timeout: 20)
        XCTAssertEqual(applied.state, "completed")
        XCTAssertEqual(applied.result?["taken"]?.int64, 251, "ceil(500 × 1000 ÷ 1999) = ceil(250.125…)")
        let c = try db.connect()
        XCTAssertEqual(try LedgerFixtures.balance(user, on: c), 249)
        XCTAssertEqual(try db.scalar("SELECT reference FROM ledger_entries WHERE kind = 'clawback'"), "clawback:stripe:charge:ch_3ScrTopup500Ch0001:1")
        XCTAssertEqual(try db.scalar("SELECT charge_id FROM payments"), "ch_3ScrTopup500Ch0001", "the charge is linked to its payment")
        XCTAssertNil(try db.scalar("SELECT flagged_at FROM stripe_events WHERE id = $1", [refund["id"]!.string!]), "not waiting a day: not flagged")
        try LedgerFixtures.assertVerified(c)
    }

    func testPartialRefundThenDisputeThenDisputeWonFollowTheArithmeticExactly() async throws {
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db)
        defer { Task { await harness.stop() } }
        let c = try db.connect()
        try LedgerFixtures.account(user, on: c, grants: [(.adjustment, 30, nil)])
        let f8 = try await harness.finished(try StripeFixture.deliver(
            try StripeFixture.load("checkout.session.completed.payment_topup.json"), to: harness))
        XCTAssertEqual(f8.state, "completed")
        let topup = try db.int("SELECT id FROM grants WHERE source = 'topup'")
        // Spend 480: the older never-expiring adjustment (30) first, then 450 of the top-up.
        let spend = try harness.enqueue(UsageRecordJob.kind, ["user_id": .string(user), "agent": "default", "units": 480, "idempotency_key": "k1"])
        let f9 = try await harness.finished(spend)
        XCTAssertEqual(f9.result?["balance"]?.int64, 50)
        // Grants that arrive later and expire sooner than the top-up.
        let reward = try c.transaction { try Ledger.grant(NewGrant(userID: self.user, source: .reward, amount: 20, expiresAt: LedgerFixtures.days(3),
                                                                   reference: "reward:t:1"), on: $0) }!.grantID!
        let monthly = try c.transaction { try Ledger.grant(NewGrant(userID: self.user, source: .subscription, amount: 40,
                                                                    expiresAt: LedgerFixtures.days(20), reference: "sub:t:1"), on: $0) }!.grantID!
        XCTAssertEqual(try LedgerFixtures.balance(user, on: c), 110)

        // $10.00 of $19.99 refunded: take ceil(500 × 1000 ÷ 1999) = 251: the top-up's 50 first
        // (the grant that payment bought), then the soonest-expiring (reward 20, then the
        // subscription's 40), the remaining 141 as debt.
        let refund = try await harness.finished(try StripeFixture.deliver(try StripeFixture.load("charge.refunded.partial_topup.json"), to: harness))
        XCTAssertEqual(refund.result?["taken"]?.int64, 251)
        XCTAssertEqual(try LedgerFixtures.remaining(topup, on: c), 0)
        XCTAssertEqual(try LedgerFixtures.remaining(reward, on: c), 0)
        XCTAssertEqual(try LedgerFixtures.remaining(monthly, on: c), 0)
        XCTAssertEqual(try LedgerFixtures.debt(user, on: c), 141)
        XCTAssertEqual(try LedgerFixtures.balance(user, on: c), -141)

        // A dispute of the whole $19.99, open: target ceil(500 × 1999 ÷ 1999) = 500; takes 249 more.
        let dispute = try StripeFixture.load("charge.dispute.created.json")
        let disputed = try await harness.finished(try StripeFixture.deliver(dispute, to: harness))
        XCTAssertEqual(disputed.result?["taken"]?.int64, 249)
        XCTAssertEqual(try LedgerFixtures.debt(user, on: c), 390)
        let refused = try harness.enqueue(UsageRecordJob.kind, ["user_id": .string(user), "agent": "default", "units": 1, "idempotency_key": "k2"])
        let f10 = try await harness.finished(refused)
        XCTAssertEqual(f10.result, ["error": "insufficient_credits", "balance": -390, "required": 1])

        // The dispute is won: the target falls back to 251; the 249 the dispute took come back
        // as a new grant, which repays debt first.
        var won = StripeFixture.variant(dispute, id: "evt_dispute_won", created: 1_787_900_000)
        won = StripeFixture.setting(StripeFixture.setting(won, ["type"], "charge.dispute.closed"), ["data", "object", "status"], "won")
        let closed = try await harness.finished(try StripeFixture.deliver(won, to: harness))
        XCTAssertEqual(closed.result?["given_back"]?.int64, 249)
        XCTAssertEqual(try LedgerFixtures.debt(user, on: c), 141)
        XCTAssertEqual(try LedgerFixtures.balance(user, on: c), -141)

        // An older dispute event arriving after the close changes nothing.
        var stale = StripeFixture.variant(dispute, id: "evt_dispute_stale", created: dispute["created"]!.int64! + 1)
        stale = StripeFixture.setting(stale, ["type"], "charge.dispute.updated")
        stale = StripeFixture.setting(stale, ["data", "object", "status"], "under_review")
        let f11 = try await harness.finished(try StripeFixture.deliver(stale, to: harness))
        XCTAssertNil(f11.result?["taken"])
        XCTAssertEqual(try LedgerFixtures.balance(user, on: c), -141)

        let row = try XCTUnwrap(c.query("SELECT credits_taken, steps, dispute_status, amount_refunded FROM clawbacks").first)
        XCTAssertEqual(try row.int64("credits_taken"), 251)
        XCTAssertEqual(try row.int("steps"), 3)
        XCTAssertEqual(try row.string("dispute_status"), "won")
        let entries = try c.query("SELECT kind, amount FROM ledger_entries WHERE reference LIKE 'clawback:%' ORDER BY id")
            .map { "\(try $0.string("kind")) \(try $0.int64("amount"))" }
        XCTAssertEqual(entries, ["clawback -251", "clawback -249", "clawback_reversal 249"])
        try LedgerFixtures.assertVerified(c)
    }

    func testARefundOfASubscriptionInvoiceFindsItsGrantThroughTheInvoicePayments() async throws {
        // Basil invoices carry no payment intent: with the key set, the job asks the API.
        let stripe = try FakeHTTPServer()
        defer { stripe.stop() }
        stripe.respond("GET", "/v1/invoice_payments", body: #"{"object":"list","data":[{"id":"inpay_1","payment":{"type":"payment_intent","payment_intent":"pi_sub_cycle"}}]}"#)
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db, environment: ["STRIPE_API_BASE": stripe.baseURL, "STRIPE_SECRET_KEY": "sk_test_fake"])
        defer { Task { await harness.stop() } }
        let end = Int64(Date().timeIntervalSince1970) + 30 * 86400
        var cycle = try StripeFixture.load("invoice.paid.subscription_cycle.json")
        var lines = cycle.at("data", "object", "lines", "data")!.array!
        lines[0] = StripeFixture.setting(lines[0], ["period", "end"], .int(end))
        cycle = StripeFixture.setting(cycle, ["data", "object", "lines", "data"], .array(lines))
        let paid = try await harness.finished(try StripeFixture.deliver(cycle, to: harness))
        XCTAssertEqual(paid.result?["credits"]?.int64, 250)
        XCTAssertEqual(stripe.requests.first?.query, "invoice=in_1ScrInvSubCycle00001&status=paid&limit=10")
        XCTAssertEqual(try db.scalar("SELECT payment_intent_id FROM payments WHERE invoice_id = 'in_1ScrInvSubCycle00001'"), "pi_sub_cycle")

        // The whole $9.99 refunded: all 250 credits of that month come back out of its grant.
        var refund = StripeFixture.variant(try StripeFixture.load("charge.refunded.partial_topup.json"), id: "evt_sub_refund", created: 1_788_300_000)
        refund = StripeFixture.setting(refund, ["data", "object", "id"], "ch_sub_cycle")
        refund = StripeFixture.setting(refund, ["data", "object", "payment_intent"], "pi_sub_cycle")
        refund = StripeFixture.setting(refund, ["data", "object", "amount"], 999)
        refund = StripeFixture.setting(refund, ["data", "object", "amount_refunded"], 999)
        let clawed = try await harness.finished(try StripeFixture.deliver(refund, to: harness))
        XCTAssertEqual(clawed.result?["taken"]?.int64, 250)
        let c = try db.connect()
        XCTAssertEqual(try LedgerFixtures.balance(user, on: c), 0)
        XCTAssertEqual(try LedgerFixtures.debt(user, on: c), 0)
        XCTAssertEqual(try db.scalar("SELECT remaining FROM grants WHERE source = 'subscription'"), "0")
        try LedgerFixtures.assertVerified(c)
    }

    func testTheLineItemsFallbackReadsTheStripeAPI() async throws {
        // The Stripe stand-in ops/run uses: the line items fixture for any session.
        let stripe = try FakeStripe()
        defer { stripe.server.stop() }
        let session = "cs_test_a1ScrTopup500SessionPaymentMode0000000000000000000001"
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db, environment: stripe.environment)
        defer { Task { await harness.stop() } }
        // No metadata.credits, and no product has the session's price id: only the API knows.
        let event = StripeFixture.setting(try StripeFixture.load("checkout.session.completed.payment_topup.json"),
                                          ["data", "object", "metadata"], ["user_id": .string(user)])
        let result = try await harness.finished(try StripeFixture.deliver(event, to: harness))
        XCTAssertEqual(result.state, "completed", "\(result.errors)")
        XCTAssertEqual(result.result?["credits"]?.int64, 500, "price.metadata.credits × quantity")
        XCTAssertEqual(try LedgerFixtures.balance(user, on: try db.connect()), 500)
        let request = try XCTUnwrap(stripe.server.requests.first)
        XCTAssertEqual(request.path, "/v1/checkout/sessions/\(session)/line_items")
        XCTAssertEqual(request.query, "expand%5B%5D=data.price&limit=100")
        XCTAssertEqual(request.headers["authorization"], "Bearer \(FakeStripe.secretKey)")
    }

    func testWithoutTheStripeKeyTheFallbackFailsNamingTheSetting() async throws {
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db, environment: ["STRIPE_SECRET_KEY": ""])
        defer { Task { await harness.stop() } }
        let event = StripeFixture.setting(try StripeFixture.load("checkout.session.completed.payment_topup.json"),
                                          ["data", "object", "metadata"], ["user_id": .string(user)])
        let result = try await harness.finished(try StripeFixture.deliver(event, to: harness))
        XCTAssertEqual(result.state, "discarded", "a missing setting is permanent: no retries")
        XCTAssertTrue(result.errors.serialized.contains("STRIPE_SECRET_KEY is not set"), result.errors.serialized)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries"), 0)
    }

    func testAProductWithTheSessionsStripePriceSetsTheCredits() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try c.query(LedgerQueries.setProduct, ["topup_500", Int64(500), Int64(1999), "price_1ScrTopup500CrUsd0", false])
        let harness = try WorkerHarness(db)
        defer { Task { await harness.stop() } }
        let event = StripeFixture.setting(try StripeFixture.load("checkout.session.completed.payment_topup.json"),
                                          ["data", "object", "metadata", "credits"], .null)
        let f12 = try await harness.finished(try StripeFixture.deliver(event, to: harness))
        XCTAssertEqual(f12.result?["credits"]?.int64, 500)
    }

    func testAChargeNeverLinkedToAPaymentIsFlaggedAfterADay() async throws {
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db)
        defer { Task { await harness.stop() } }
        let dispute = try StripeFixture.load("charge.dispute.created.json")
        let job = try StripeFixture.deliver(dispute, to: harness)
        try await waitUntil("the dispute waits") { try harness.state(job) == "scheduled" }
        XCTAssertNil(try db.scalar("SELECT flagged_at FROM stripe_events"))
        // A day and more later (the clock moved back instead): the next run flags it.
        try db.connect().query("UPDATE stripe_events SET received_at = now() - interval '25 hours'")
        try db.connect().query("UPDATE jobs SET run_at = now() WHERE id = $1", [job])
        try await waitUntil("the event is flagged") { try db.scalar("SELECT flagged_at FROM stripe_events") != nil }
        let reason = try XCTUnwrap(db.scalar("SELECT flag_reason FROM stripe_events"))
        XCTAssertTrue(reason.contains("ch_3ScrTopup500Ch0001"), reason)
        try await waitUntil("it keeps waiting") { try harness.state(job) == "scheduled" }
    }

    func testAsyncPaymentFailureNotifiesAndOtherTypesAreAcknowledged() async throws {
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db)
        defer { Task { await harness.stop() } }
        var failed = StripeFixture.variant(try StripeFixture.load("checkout.session.completed.payment_topup.json"), id: "evt_async_failed", created: 1_785_748_600)
        failed = StripeFixture.setting(StripeFixture.setting(failed, ["type"], "checkout.session.async_payment_failed"),
                                       ["data", "object", "payment_status"], "unpaid")
        let f13 = try await harness.finished(try StripeFixture.deliver(failed, to: harness))
        XCTAssertEqual(f13.state, "completed")
        XCTAssertEqual(try db.int("SELECT count(*) FROM notifications WHERE type = 'payment_failed'"), 1)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries"), 0)
        XCTAssertEqual(try db.scalar("SELECT status FROM payments"), "failed")

        let other: JSON = ["id": "evt_other", "type": "customer.created", "created": 1_785_000_000, "data": ["object": ["id": "cus_1"]]]
        let result = try await harness.finished(try StripeFixture.deliver(other, to: harness))
        XCTAssertEqual(result.state, "completed")
        XCTAssertNotNil(result.result?["ignored"])
    }
}

final class ClawbackMathTests: XCTestCase {
    func testDesignArithmeticRoundsUpAndTakesOnlyTheDifference() {
        var m = ClawbackMath(creditsBought: 500, amountCharged: 1999, amountRefunded: 1000)
        XCTAssertEqual(m.target, 251)
        XCTAssertEqual(m.step(alreadyTaken: 0), 251)
        m.disputeAmount = 1999
        m.disputeStatus = "needs_response"
        XCTAssertEqual(m.step(alreadyTaken: 251), 249)
        m.disputeStatus = "lost"
        XCTAssertEqual(m.step(alreadyTaken: 500), 0)
        m.disputeStatus = "won"
        XCTAssertEqual(m.step(alreadyTaken: 500), -249)
        m.disputeStatus = "warning_needs_response"
        XCTAssertEqual(m.target, 251, "an inquiry moves no money")
        // Exact at the limits: no floating point, no overflow.
        let big = ClawbackMath(creditsBought: Int64.max, amountCharged: Int64.max - 1, amountRefunded: Int64.max - 2)
        XCTAssertEqual(big.target, Int64.max - 1, "ceil((2^63-1)(2^63-3) ÷ (2^63-2)) = 2^63-2")
        XCTAssertEqual(ClawbackMath(creditsBought: 3, amountCharged: 3, amountRefunded: 1).target, 1)
        XCTAssertEqual(ClawbackMath(creditsBought: 10, amountCharged: 3, amountRefunded: 1).target, 4, "ceil(10/3)")
        XCTAssertEqual(ClawbackMath(creditsBought: 10, amountCharged: 100, amountRefunded: 500).target, 10, "never more than bought")
    }
}
