import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// `STRIPE_EVENT_SOURCE=api`: the worker re-reads each event from Stripe's API
/// (`GET /v1/events/{id}`) and applies what Stripe says, so an inbox row Stripe never sent, or
/// one changed after it was stored, grants nothing (DESIGN.md, "The security model").
final class StripeEventSourceTests: XCTestCase {
    let user = "8c1f6d2e-4b7a-4e0c-9a51-3f2b7d9e6a10"

    func testTheWorkerAppliesWhatStripesAPISaysNotWhatTheInboxHolds() async throws {
        let stripe = try FakeStripe()
        defer { stripe.server.stop() }
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db, environment: stripe.environment.merging(["STRIPE_EVENT_SOURCE": "api"]) { $1 })
        defer { Task { await harness.stop() } }
        let real = try StripeFixture.load("checkout.session.completed.payment_topup.json")
        stripe.publish(real)

        // What a stolen ingress credential could store: the real event with more credits, and
        // an event Stripe never sent.
        let tampered = StripeFixture.setting(real, ["data", "object", "metadata", "credits"], .string("1000000"))
        let forged = StripeFixture.setting(StripeFixture.variant(real, id: "evt_forged_1", created: 1_756_300_000),
                                           ["data", "object", "id"], .string("cs_forged_1"))
        let applied = try await harness.finished(try StripeFixture.deliver(tampered, to: harness))
        XCTAssertEqual(applied.state, "completed", "\(applied.errors)")
        XCTAssertEqual(applied.result?["credits"]?.int64, 500, "Stripe's copy says 500")
        let refused = try await harness.finished(try StripeFixture.deliver(forged, to: harness))
        XCTAssertEqual(refused.state, "discarded")
        let reason = try XCTUnwrap(try db.scalar("SELECT flag_reason FROM stripe_events WHERE id = 'evt_forged_1'"))
        XCTAssertTrue(reason.contains("Stripe's API has no event evt_forged_1"), reason)

        let c = try db.connect()
        XCTAssertEqual(try LedgerFixtures.balance(user, on: c), 500)
        XCTAssertEqual(try db.int("SELECT count(*) FROM grants"), 1)
        let reads = stripe.server.requests.filter { $0.path.hasPrefix("/v1/events/") }.map(\.path)
        XCTAssertEqual(Set(reads), ["/v1/events/\(real["id"]?.string ?? "")", "/v1/events/evt_forged_1"])
        XCTAssertTrue(stripe.server.requests.allSatisfy { $0.headers["authorization"] == "Bearer \(FakeStripe.secretKey)" })
        try LedgerFixtures.assertVerified(c)
    }

    func testAStripeOutageIsRetriedAndTheEventAppliedOnceItAnswers() async throws {
        let stripe = try FakeStripe()
        defer { stripe.server.stop() }
        let db = try TestDatabase.create()
        let harness = try WorkerHarness(db, environment: stripe.environment.merging(["STRIPE_EVENT_SOURCE": "api"]) { $1 })
        defer { Task { await harness.stop() } }
        let event = try StripeFixture.load("checkout.session.completed.payment_topup.json")
        stripe.publish(event)
        stripe.failEvents([500, 503])
        let job = try StripeFixture.deliver(event, to: harness)
        let done = try await harness.finished(job)
        XCTAssertEqual(done.state, "completed", "\(done.errors)")
        XCTAssertEqual(done.errors.array?.count, 2, "two failed attempts while Stripe answered 5xx")
        XCTAssertEqual(try LedgerFixtures.balance(user, on: try db.connect()), 500)
    }

    func testABadEventSourceSettingIsRefusedByName() throws {
        XCTAssertThrowsError(try StripeSettings(Environment(["STRIPE_EVENT_SOURCE": "inbox"]))) { error in
            XCTAssertTrue("\(error)".contains("STRIPE_EVENT_SOURCE"), "\(error)")
        }
        XCTAssertEqual(try StripeSettings(Environment([:])).eventSource, .webhook)
        XCTAssertEqual(try StripeSettings(Environment(["STRIPE_EVENT_SOURCE": "api"])).eventSource, .api)
    }
}
