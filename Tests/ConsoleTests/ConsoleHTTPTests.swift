import Console
import Jobs
import Foundation
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// The console over HTTP against a real PostgreSQL: sign-in, the CSRF check, and the actions,
/// each audited under the operator's name.
final class ConsoleHTTPTests: XCTestCase {
    func testSignedOutRequestsGetTheSignInPage() async throws {
        let h = try ConsoleHarness()
        let client = ConsoleClient(port: h.port)
        let overview = try await client.get("/")
        XCTAssertEqual(overview.status, 303)
        XCTAssertEqual(overview.headers["location"], "/sign-in")
        let jobs = try await client.get("/jobs?state=discarded")
        XCTAssertEqual(jobs.status, 303)
        XCTAssertEqual(jobs.headers["location"], "/sign-in?next=%2Fjobs%3Fstate%3Ddiscarded")
        let page = try await client.get("/sign-in")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.text.contains(#"name="token""#), page.text)
        XCTAssertNotNil(client.csrf, "the sign-in form carries a CSRF token")
        XCTAssertEqual(page.headers["content-security-policy"]?.contains("default-src 'none'"), true)
        // A made-up session cookie is no session.
        client.cookies["tally_console_session"] = String(repeating: "a", count: 64)
        let r1 = try await client.get("/jobs")
        XCTAssertEqual(r1.status, 303)
    }

    func testAWrongOrRevokedTokenIsRefusedAndAGoodOneGetsAStrictHttpOnlyCookie() async throws {
        let h = try ConsoleHarness()
        let token = try h.createOperator("alice")
        let client = ConsoleClient(port: h.port)
        let (wrong, page) = try await client.signIn(Operators.tokenPrefix + String(repeating: "0", count: 64))
        XCTAssertEqual(wrong, 401)
        XCTAssertTrue(page.text.contains("Unknown or revoked token"), page.text)
        XCTAssertNil(client.cookies["tally_console_session"])
        XCTAssertEqual(try h.db.int("SELECT count(*) FROM operator_sessions"), 0)

        let (ok, signedIn) = try await client.signIn(token)
        XCTAssertEqual(ok, 303)
        let cookie = try XCTUnwrap(signedIn.headers["set-cookie"])
        XCTAssertTrue(cookie.hasPrefix("tally_console_session="), cookie)
        XCTAssertTrue(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), cookie)
        XCTAssertFalse(cookie.contains("Secure"), "Secure only with TALLY_CONSOLE_SECURE_COOKIES=on")
        let overview = try await client.get("/")
        XCTAssertEqual(overview.status, 200)
        XCTAssertTrue(overview.text.contains("alice"), "the page names who is signed in")
        XCTAssertTrue(overview.text.contains("<svg class=\"chart\""), "the throughput chart is inline SVG")
        let sessionCookie = try XCTUnwrap(client.cookies["tally_console_session"])
        XCTAssertEqual(try h.db.int("SELECT count(*) FROM operator_sessions WHERE id_hash = $1", [Crypto.sha256Hex(sessionCookie)]), 1,
                       "the session is stored hashed")
        XCTAssertEqual(try h.audit().first?.action, "operators.sign_in")
        XCTAssertEqual(try h.audit().first?.actor, "alice")

        // Revoked: the session ends at once and the token no longer signs in.
        XCTAssertNotNil(try Operators.revoke(name: "alice", on: try h.db.connect()))
        let r2 = try await client.get("/")
        XCTAssertEqual(r2.status, 303)
        let (again, _) = try await ConsoleClient(port: h.port).signIn(token)
        XCTAssertEqual(again, 401)

        let secure = try ConsoleHarness(environment: ["TALLY_CONSOLE_SECURE_COOKIES": "on"])
        let bob = try secure.createOperator("bob")
        let (status, response) = try await ConsoleClient(port: secure.port).signIn(bob)
        XCTAssertEqual(status, 303)
        XCTAssertEqual(response.headers["set-cookie"]?.contains("; Secure"), true)
    }

    func testAPostWithoutTheCSRFTokenIsRefusedAndChangesNothing() async throws {
        let h = try ConsoleHarness()
        let client = try await h.signIn(try h.createOperator("alice"))
        let id = try h.job(state: .discarded)
        let auditBefore = try h.audit().count

        let forged = try await client.post("/jobs/\(id)/retry", [:], csrf: false)
        XCTAssertEqual(forged.status, 403)
        let wrong = try await client.post("/jobs/\(id)/retry", ["csrf": String(repeating: "0", count: 64)], csrf: false)
        XCTAssertEqual(wrong.status, 403)
        let pause = try await client.post("/queues/default/pause", [:], csrf: false)
        XCTAssertEqual(pause.status, 403)
        let bulk = try await client.post("/jobs/bulk", ["action": "retry", "state": "discarded"], csrf: false)
        XCTAssertEqual(bulk.status, 403)
        // Signed out, even with a token from somewhere: 403, not a sign-in redirect that could run it later.
        let anonymous = ConsoleClient(port: h.port)
        anonymous.csrf = client.csrf
        let r3 = try await anonymous.post("/jobs/\(id)/retry")
        XCTAssertEqual(r3.status, 403)

        XCTAssertEqual(try h.state(id), "discarded", "nothing changed")
        XCTAssertEqual(try h.db.int("SELECT count(*) FROM queues WHERE paused"), 0)
        XCTAssertEqual(try h.audit().count, auditBefore, "nothing audited")
    }

    func testRetryingADiscardedJobIsAuditedUnderTheOperatorsName() async throws {
        let h = try ConsoleHarness()
        let client = try await h.signIn(try h.createOperator("alice"))
        let id = try h.job(state: .discarded, args: ["note": "<script>alert(1)</script>"])
        let list = try await client.get("/jobs?state=discarded")
        XCTAssertEqual(list.status, 200)
        XCTAssertTrue(list.text.contains("/jobs/\(id)/retry"), list.text)
        let page = try await client.get("/jobs/\(id)")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.text.contains("boom"), "each attempt's error is shown")
        XCTAssertFalse(page.text.contains("<script>alert"), "what comes from the database is escaped")
        XCTAssertTrue(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))

        let retried = try await client.post("/jobs/\(id)/retry", ["back": "/jobs?state=discarded"])
        XCTAssertEqual(retried.status, 303)
        XCTAssertEqual(retried.headers["location"]?.hasPrefix("/jobs?state=discarded&notice="), true)
        XCTAssertEqual(try h.state(id), "available")
        let entry = try XCTUnwrap(try h.audit().first)
        XCTAssertEqual(entry.actor, "alice")
        XCTAssertEqual(entry.action, "jobs.retry")
        XCTAssertEqual(entry.target, "jobs:\(id)")
        XCTAssertEqual(entry.details["via"]?.string, "console")
        let after = try await client.get("/jobs?state=discarded")
        XCTAssertFalse(after.text.contains("/jobs/\(id)/retry"), "the job left the discarded list")

        // A job's cancel, and a redirect that would leave the console is not followed.
        let waiting = try h.job(state: .available)
        let cancelled = try await client.post("/jobs/\(waiting)/cancel", ["back": "//evil.example/"])
        XCTAssertEqual(cancelled.headers["location"]?.hasPrefix("/jobs/\(waiting)?notice="), true)
        XCTAssertEqual(try h.state(waiting), "cancelled")
        XCTAssertEqual(try h.audit().first?.action, "jobs.cancel")
        XCTAssertTrue(try h.db.scalar("SELECT errors::text FROM jobs WHERE id = $1", [waiting])?.contains("cancelled by alice") == true)
    }

    func testBulkRetryActsOnWhatTheFilterShows() async throws {
        let h = try ConsoleHarness()
        let client = try await h.signIn(try h.createOperator("alice"))
        let a = try (0..<3).map { _ in try h.job(kind: "test.a", state: .discarded) }
        let b = try h.job(kind: "test.b", state: .discarded)
        let done = try h.job(kind: "test.a", state: .completed)
        let page = try await client.get("/jobs?state=discarded&kind=test.a")
        XCTAssertTrue(page.text.contains("Retry all"), page.text)
        let r = try await client.post("/jobs/bulk", ["action": "retry", "state": "discarded", "kind": "test.a"])
        XCTAssertEqual(r.status, 303)
        for id in a { XCTAssertEqual(try h.state(id), "available") }
        XCTAssertEqual(try h.state(b), "discarded", "another kind is not in the filter")
        XCTAssertEqual(try h.state(done), "completed")
        let entry = try XCTUnwrap(try h.audit().first)
        XCTAssertEqual(entry.actor, "alice")
        XCTAssertEqual(entry.action, "jobs.retry")
        XCTAssertEqual(entry.details["retried"]?.array?.compactMap(\.int64).sorted(), a.sorted())
        XCTAssertEqual(entry.details["kind"]?.string, "test.a")

        let cancel = try await client.post("/jobs/bulk", ["action": "cancel", "kind": "test.a", "state": "available"])
        XCTAssertEqual(cancel.status, 303)
        for id in a { XCTAssertEqual(try h.state(id), "cancelled") }
        XCTAssertEqual(try h.audit().first?.action, "jobs.cancel")
        let r4 = try await client.post("/jobs/bulk", ["action": "retry"])
        XCTAssertEqual(r4.status, 400, "no filter: refused, not everything")
    }

    func testPauseAndResumeAreAudited() async throws {
        let h = try ConsoleHarness()
        let client = try await h.signIn(try h.createOperator("alice"))
        _ = try h.job(queue: "payments", state: .available)
        let page = try await client.get("/queues")
        XCTAssertTrue(page.text.contains("/queues/payments/pause"), page.text)
        let r5 = try await client.post("/queues/payments/pause")
        XCTAssertEqual(r5.status, 303)
        XCTAssertEqual(try h.db.scalar("SELECT paused::text FROM queues WHERE name = 'payments'"), "true")
        XCTAssertEqual(try h.audit().first.map { [$0.actor, $0.action, $0.target ?? ""] }, ["alice", "queues.pause", "queue:payments"])
        let r6 = try await client.get("/queues")
        XCTAssertTrue(r6.text.contains("/queues/payments/resume"))
        let r7 = try await client.post("/queues/payments/resume")
        XCTAssertEqual(r7.status, 303)
        XCTAssertEqual(try h.db.scalar("SELECT paused::text FROM queues WHERE name = 'payments'"), "false")
        XCTAssertEqual(try h.audit().first.map { [$0.actor, $0.action, $0.target ?? ""] }, ["alice", "queues.resume", "queue:payments"])
    }

    func testConfirmingAPurchaseEnqueuesTheConfirmationAndIsAudited() async throws {
        let h = try ConsoleHarness()
        let client = try await h.signIn(try h.createOperator("alice"))
        let late = "6f1c2b3a-0000-4000-8000-000000000001"
        try h.db.connect().execute("""
            INSERT INTO accounts (user_id, opened_by) VALUES ('u-late', 'signup');
            INSERT INTO crypto_purchases (id, user_id, product, coin, status, credits, usd_cents, price_usd, amount_base_units,
                                          address, wallet_id, quoted_at, expires_at, received_base_units, confirmations, created_at)
            VALUES ('\(late)', 'u-late', 'topup_100', 'btc', 'late', 100, 499, 63968.12, 7801, 'bc1qlate', 'w', now() - interval '1 hour',
                    now() - interval '30 minutes', 7801, 4, now() - interval '1 hour');
            """)
        let page = try await client.get("/purchases")
        XCTAssertTrue(page.text.contains("/purchases/\(late)/confirm"), page.text)
        let r = try await client.post("/purchases/\(late)/confirm", ["note": "paid 10 min late, checked the chain"])
        XCTAssertEqual(r.status, 303)
        let args = try XCTUnwrap(try h.db.scalar("SELECT args::text FROM jobs WHERE kind = 'crypto.confirm_manual'"))
        XCTAssertTrue(args.contains(#""actor": "alice""#) && args.contains(late), args)
        let entry = try XCTUnwrap(try h.audit().first)
        XCTAssertEqual([entry.actor, entry.action, entry.target ?? "", entry.reason ?? ""],
                       ["alice", "purchases.confirm", late, "paid 10 min late, checked the chain"])
        XCTAssertNotNil(entry.details["job_id"]?.int64)

        // A purchase that is not held, or none at all: refused, nothing enqueued or audited.
        try h.db.connect().execute("UPDATE crypto_purchases SET status = 'failed'")
        let refused = try await client.post("/purchases/\(late)/confirm", ["note": "again"])
        XCTAssertEqual(refused.status, 400, refused.text)
        let missing = try await client.post("/purchases/6f1c2b3a-0000-4000-8000-00000000ffff/confirm", ["note": "x"])
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(try h.db.int("SELECT count(*) FROM jobs WHERE kind = 'crypto.confirm_manual'"), 1)
        XCTAssertEqual(try h.db.int("SELECT count(*) FROM audit_log WHERE action = 'purchases.confirm'"), 1)
    }

    func testEveryPageAnswers() async throws {
        let h = try ConsoleHarness()
        let client = try await h.signIn(try h.createOperator("alice"))
        _ = try h.job(state: .discarded)
        _ = try h.job(state: .completed)
        try h.db.connect().execute("INSERT INTO accounts (user_id, opened_by) VALUES ('u<1>', 'signup')")
        for path in ["/", "/jobs", "/jobs?state=completed&queue=default&since=1h", "/queues", "/workers", "/accounts", "/accounts?user=u%3C1%3E",
                     "/accounts?user=nobody", "/purchases", "/endpoints", "/audit", "/audit?actor=alice", "/console.css", "/console.js"] {
            let r = try await client.get(path)
            XCTAssertEqual(r.status, 200, "\(path): \(r.text.prefix(300))")
            XCTAssertNil(r.text.range(of: #"(src|href|action)="(https?:)?//"#, options: .regularExpression), "\(path) loads nothing from outside")
        }
        let r8 = try await client.get("/accounts?user=u%3C1%3E")
        XCTAssertTrue(r8.text.contains("u&lt;1&gt;"))
        let r9 = try await client.get("/jobs/999999")
        XCTAssertEqual(r9.status, 404)
        let r10 = try await client.get("/jobs?state=nonsense")
        XCTAssertEqual(r10.status, 400)
        let r11 = try await client.get("/nowhere")
        XCTAssertEqual(r11.status, 404)
        let wrongMethod = try await client.post("/jobs")
        XCTAssertEqual(wrongMethod.status, 405)
    }

    func testDisablingAndEnablingAnEndpointAndSeeingAnAccountsHolds() async throws {
        let h = try ConsoleHarness()
        let client = try await h.signIn(try h.createOperator("alice"))
        let c = try h.db.connect()
        try c.execute("INSERT INTO notify_endpoints (url, secret) VALUES ('https://hooks.example.com/<x>', 'whsec_0123456789abcdef')")
        let id = try h.db.int("SELECT id FROM notify_endpoints")
        let page = try await client.get("/endpoints")
        XCTAssertTrue(page.text.contains("https://hooks.example.com/&lt;x&gt;"), page.text)
        let disabled = try await client.post("/endpoints/\(id)/disable")
        XCTAssertEqual(disabled.status, 303)
        XCTAssertEqual(try h.db.scalar("SELECT enabled::text || ' ' || disabled_reason FROM notify_endpoints"), "false disabled by alice")
        XCTAssertEqual(try h.audit().first.map { [$0.actor, $0.action, $0.target ?? ""] }, ["alice", "endpoints.disable", "endpoint:\(id)"])
        let enabled = try await client.post("/endpoints/\(id)/enable")
        XCTAssertEqual(enabled.status, 303)
        XCTAssertEqual(try h.db.scalar("SELECT enabled::text FROM notify_endpoints"), "true")
        XCTAssertEqual(try h.audit().first?.action, "endpoints.enable")

        try c.execute("INSERT INTO accounts (user_id, opened_by) VALUES ('u1', 'signup')")
        let grant = try TallyRun.run(["grant", "u1", "100", "--reason", "test", "--actor", "t"], environment: ["DATABASE_URL": h.db.url])
        XCTAssertEqual(grant.status, 0, grant.stderr)
        let holdID = Hold.id(userID: "u1", idempotencyKey: "k1")
        _ = try c.transaction { tx in try Holds.create(id: holdID, userID: "u1", amount: .credits(25), expiresIn: 600, on: tx) }
        let account = try await client.get("/accounts?user=u1")
        XCTAssertTrue(account.text.contains(holdID), account.text)
        XCTAssertTrue(account.text.contains("<b>75</b><span>balance"), "the balance is what the hold leaves spendable")
    }
}
