import Foundation
import Support
import TestSupport
import XCTest

/// Whole flows through HTTP and a real `tally worker` process: webhooks and app calls go in
/// through the ingress, the worker applies them, the read endpoints show the result.
final class HTTPFlowTests: XCTestCase {
    static let user = "8c1f6d2e-4b7a-4e0c-9a51-3f2b7d9e6a10"  // the fixtures' user

    var h: IngressHarness!
    var worker: TallyProcess!

    override func setUpWithError() throws {
        h = try IngressHarness()
        worker = try TallyProcess(["worker", "--id", "flow"], environment: [
            "DATABASE_URL": h.db.url, "TALLY_BACKOFF_SCALE": "0.001", "TALLY_SCHEDULER_INTERVAL": "200ms",
            // The cron jobs of today are not what these tests look at.
            "TALLY_SCHEDULE_CREDITS_ROLLOVER": "off", "TALLY_SCHEDULE_CREDITS_EXPIRE": "off", "TALLY_SCHEDULE_PRICES_REFRESH": "off",
            "TALLY_SCHEDULE_CRYPTO_POLL": "off", "TALLY_SCHEDULE_STREAKS_EVALUATE": "off",
        ])
    }

    override func tearDown() {
        worker?.signal(SIGKILL)
        worker = nil
        h = nil
    }

    func fixture(_ name: String) throws -> [UInt8] {
        try Fixture.bytes("stripe/\(name).json")
    }

    /// POSTs a Stripe event signed as Stripe signs it.
    @discardableResult
    func deliver(_ body: [UInt8]) throws -> RawHTTPClient.Response {
        let r = try h.request("POST", "/webhooks/stripe", json: String(decoding: body, as: UTF8.self),
                              headers: ["Stripe-Signature": IngressHarness.stripeSignature(body)], auth: false)
        XCTAssertEqual(r.status, 200, r.text)
        return r
    }

    /// Waits until every stripe.event job is finished and returns the account as GET shows it.
    func accountWhenSettled(_ user: String = user) async throws -> JSON {
        try await waitUntil("the events are applied") {
            try self.h.db.int("SELECT count(*) FROM jobs WHERE kind = 'stripe.event' AND state <> 'completed'") == 0
        }
        let r = try h.request("GET", "/v1/accounts/\(user)")
        XCTAssertEqual(r.status, 200, r.text)
        return try XCTUnwrap(r.json)
    }

    func testTopUpDeliveredThreeTimesGrantsFiveHundredOnce() async throws {
        let body = try fixture("checkout.session.completed.payment_topup")
        // Three deliveries at once, as Stripe's retries can overlap.
        let harness: IngressHarness = h
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    try await RawHTTPClient.run {
                        try harness.request("POST", "/webhooks/stripe", json: String(decoding: body, as: UTF8.self),
                                            headers: ["Stripe-Signature": IngressHarness.stripeSignature(body)], auth: false).status
                    }
                }
            }
            var all: [Int] = []
            for try await s in group { all.append(s) }
            return all
        }
        XCTAssertEqual(statuses, [200, 200, 200])
        let account = try await accountWhenSettled()
        XCTAssertEqual(account["balance"]?.int64, 500)
        XCTAssertEqual(account["grants"]?.array?.count, 1, "opened by the payment, without the trial")
        XCTAssertEqual(account["grants"]?[0]?["source"]?.string, "topup")
        XCTAssertEqual(try h.jobCount("stripe.event"), 1)
        let ledger = try XCTUnwrap(try h.request("GET", "/v1/accounts/\(Self.user)/ledger").json)
        XCTAssertEqual(ledger["entries"]?.array?.map { $0["amount"]?.int64 }, [500])
        let inbox = try XCTUnwrap(try h.request("GET", "/v1/accounts/\(Self.user)/notifications").json)
        XCTAssertFalse(inbox["notifications"]?.array?.isEmpty ?? true, "the balance change is in the user's inbox")

        // A partial refund of $10.00 of $19.99: ceil(500 × 1000 / 1999) = 251 credits back.
        try deliver(try fixture("charge.refunded.partial_topup"))
        let after = try await accountWhenSettled()
        XCTAssertEqual(after["balance"]?.int64, 249)
    }

    func testSubscriptionCycleFailureAndOutOfOrderUpdates() async throws {
        try deliver(try fixture("checkout.session.completed.subscription"))
        try deliver(try fixture("invoice.paid.subscription_cycle"))
        _ = try await accountWhenSettled()
        // +250 expiring at the line's period end (2026-10-01), not the invoice's own period.
        XCTAssertEqual(try h.db.scalar("""
            SELECT amount || ' ' || to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
            FROM grants WHERE user_id = $1 AND source = 'subscription'
            """, [Self.user]), "250 2026-10-01T12:00:00")

        try deliver(try fixture("invoice.payment_failed"))
        let failed = try await accountWhenSettled()
        XCTAssertEqual(failed["subscription"]?["status"]?.string, "past_due")

        // The deletion (Oct 4) arrives before an older update (Sep 6): the older changes nothing.
        try deliver(try fixture("customer.subscription.deleted"))
        try deliver(try fixture("customer.subscription.updated.cancel_at_period_end"))
        let final = try await accountWhenSettled()
        XCTAssertEqual(final["subscription"]?["status"]?.string, "canceled")
    }

    func testUsageWithPreferWait() async throws {
        let open = try await h.postAsync("/v1/accounts", #"{"user_id": "app-user-1"}"#, headers: ["Prefer": "wait=10"])
        XCTAssertEqual(open.status, 200, open.text)
        let ok = try await h.postAsync("/v1/usage", #"{"user_id": "app-user-1", "agent": "default", "units": 3, "idempotency_key": "u-1"}"#,
                                       headers: ["Prefer": "wait=5"])
        XCTAssertEqual(ok.status, 200, ok.text)
        XCTAssertEqual(ok.json?["result"], ["charged": 3, "balance": 2], "5 trial credits less 3")
        let poor = try await h.postAsync("/v1/usage", #"{"user_id": "app-user-1", "agent": "default", "units": 3, "idempotency_key": "u-2"}"#,
                                         headers: ["Prefer": "wait=5"])
        XCTAssertEqual(poor.status, 402, poor.text)
        XCTAssertEqual(poor.errorCode, "insufficient_credits")
        XCTAssertEqual(poor.json?["balance"]?.int64, 2)
        XCTAssertEqual(poor.json?["required"]?.int64, 3)
        let nobody = try await h.postAsync("/v1/usage", #"{"user_id": "nobody", "agent": "default", "units": 1, "idempotency_key": "u-3"}"#,
                                           headers: ["Prefer": "wait=5"])
        XCTAssertEqual(nobody.status, 404, nobody.text)
        XCTAssertEqual(nobody.errorCode, "account_not_found")
        let account = try XCTUnwrap(try h.request("GET", "/v1/accounts/app-user-1").json)
        XCTAssertEqual(account["balance"]?.int64, 2)
        XCTAssertEqual(try h.request("GET", "/v1/accounts/nobody").status, 404)
        XCTAssertEqual(try h.request("GET", "/v1/accounts/app-user-1/ledger?limit=0").status, 400)
        let page = try XCTUnwrap(try h.request("GET", "/v1/accounts/app-user-1/ledger?limit=1").json)
        XCTAssertEqual(page["entries"]?.array?.count, 1)
        XCTAssertEqual(page["entries"]?[0]?["amount"]?.int64, -3, "newest first")
        let next = try XCTUnwrap(page["next_before"]?.int64)
        XCTAssertEqual(try h.request("GET", "/v1/accounts/app-user-1/ledger?before=\(next)").json?["entries"]?[0]?["amount"]?.int64, 5)
        XCTAssertEqual(try h.request("GET", "/v1/purchases/not-a-uuid").status, 404)
        XCTAssertEqual(try h.request("GET", "/v1/purchases/\(UUID().uuidString)").status, 404)
        XCTAssertEqual(try h.request("GET", "/v1/accounts/app-user-1", auth: false).status, 401)
    }
}
