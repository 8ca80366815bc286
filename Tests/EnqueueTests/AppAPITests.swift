import Enqueue
import Foundation
import Support
import TestSupport
import XCTest

/// The app endpoints: what they enqueue (CONTRACTS.md), idempotency, reading jobs.
final class AppAPITests: XCTestCase {
    func args(_ h: IngressHarness, _ id: Int64) throws -> JSON {
        try JSON.parse(XCTUnwrap(h.db.scalar("SELECT args::text FROM jobs WHERE id = $1", [id])))
    }

    func testEachEndpointEnqueuesItsKindWithTheContractArgs() throws {
        let h = try IngressHarness()
        struct Expect { let path: String; let body: String; let kind: String; let queue: String; let key: String?; let args: JSON }
        let cases = [
            Expect(path: "/v1/accounts", body: #"{"user_id":"u1","referral_code":"FRIEND"}"#, kind: "account.open", queue: "default",
                   key: "account:u1", args: ["user_id": "u1", "referral_code": "FRIEND"]),
            Expect(path: "/v1/usage", body: #"{"user_id":"u1","agent":"default","units":7,"idempotency_key":"req-1"}"#, kind: "usage.record",
                   queue: "default", key: "usage:u1:req-1", args: ["user_id": "u1", "agent": "default", "units": 7, "idempotency_key": "req-1"]),
            Expect(path: "/v1/activity", body: #"{"user_id":"u1","action":"daily_login","idempotency_key":"a-1"}"#, kind: "rewards.action",
                   queue: "default", key: "activity:u1:a-1", args: ["user_id": "u1", "action": "daily_login", "idempotency_key": "a-1"]),
            Expect(path: "/v1/accounts/u1/notifications/read", body: #"{"ids":[3,5]}"#, kind: "notify.read", queue: "notify", key: nil,
                   args: ["user_id": "u1", "ids": [3, 5]]),
        ]
        for c in cases {
            let r = try h.post(c.path, c.body)
            XCTAssertEqual(r.status, 202, "\(c.path): \(r.text)")
            let id = try XCTUnwrap(r.json?["job_id"]?.int64, c.path)
            XCTAssertEqual(r.json?.object?.keys.sorted(), ["job_id"])
            XCTAssertEqual(try args(h, id), c.args, c.path)
            XCTAssertEqual(try h.db.scalar("SELECT kind || ' ' || queue || ' ' || COALESCE(unique_key, '-') FROM jobs WHERE id = $1", [id]),
                           "\(c.kind) \(c.queue) \(c.key ?? "-")")
        }
        let purchase = try h.post("/v1/purchases/crypto", #"{"user_id":"u1","product":"topup_100","coin":"btc"}"#)
        XCTAssertEqual(purchase.status, 202, purchase.text)
        let purchaseID = try XCTUnwrap(purchase.json?["purchase_id"]?.string)
        XCTAssertNotNil(UUID(uuidString: purchaseID))
        let pargs = try args(h, try XCTUnwrap(purchase.json?["job_id"]?.int64))
        XCTAssertEqual(pargs, ["purchase_id": .string(purchaseID), "user_id": "u1", "product": "topup_100", "coin": "btc"])
        XCTAssertEqual(try h.db.scalar("SELECT queue FROM jobs WHERE kind = 'crypto.quote'"), "payments")
    }

    /// A purchase that can only fail is bad input, refused before anything is enqueued: no
    /// job, so no purchase row either (crypto.quote makes it).
    func testCryptoPurchaseOfAnUnknownProductOrCoinIsRefusedNamingTheField() throws {
        let h = try IngressHarness()
        let cases: [(body: String, field: String)] = [
            (#"{"user_id":"u1","product":"no_such_product","coin":"btc"}"#, "product"),
            (#"{"user_id":"u1","product":"monthly","coin":"eth","idempotency_key":"sub"}"#, "product"),
            (#"{"user_id":"u1","product":"topup_100","coin":"doge"}"#, "coin"),
            (#"{"user_id":"u1","product":"no_such_product","coin":"doge"}"#, "coin"),
        ]
        for c in cases {
            let r = try h.post("/v1/purchases/crypto", c.body)
            XCTAssertEqual(r.status, 400, "\(c.body): \(r.text)")
            XCTAssertEqual(r.errorCode, "invalid_request", c.body)
            let message = try XCTUnwrap(r.json?["message"]?.string, c.body)
            XCTAssertTrue(message.hasPrefix(c.field + " "), "\(c.body): the message names \(c.field): \(message)")
        }
        XCTAssertEqual(try h.post("/v1/purchases/crypto", #"{"user_id":"u1","product":"no_such_product","coin":"btc"}"#).json?["message"]?.string,
                       #"product "no_such_product" does not exist"#)
        XCTAssertEqual(try h.jobCount(), 0)
        XCTAssertEqual(try h.db.int("SELECT count(*) FROM crypto_purchases"), 0)

        // A product made with `tally products set` is taken at once.
        try h.db.connect().query("INSERT INTO products (name, credits, usd_cents) VALUES ('topup_50', 50, 299)")
        XCTAssertEqual(try h.post("/v1/purchases/crypto", #"{"user_id":"u1","product":"topup_50","coin":"btc"}"#).status, 202)
        XCTAssertEqual(try h.jobCount("crypto.quote"), 1)
    }

    /// `tally grant` / `tally debit` (the real binary) record who and why; the ledger endpoint
    /// gives it as each entry's metadata.
    func testLedgerEntriesCarryTheActorAndReasonOfAnOperatorsAdjustment() throws {
        let h = try IngressHarness()
        try h.db.connect().query("INSERT INTO accounts (user_id, opened_by) VALUES ('u1', 'operator')")
        for args in [["grant", "u1", "42", "--reason", "goodwill", "--actor", "ops"], ["debit", "u1", "5", "--reason", "abuse", "--actor", "bo"]] {
            let run = try TallyRun.run(args, environment: ["DATABASE_URL": h.db.url])
            XCTAssertEqual(run.status, 0, "tally \(args.joined(separator: " ")): \(run.stderr)")
        }
        let ledger = try XCTUnwrap(try h.request("GET", "/v1/accounts/u1/ledger").json)
        let entries = try XCTUnwrap(ledger["entries"]?.array)
        XCTAssertEqual(entries.map { $0["amount"]?.int64 }, [-5, 42])
        XCTAssertEqual(entries[1]["kind"]?.string, "adjustment")
        XCTAssertEqual(entries[1]["metadata"], ["actor": "ops", "reason": "goodwill"])
        XCTAssertEqual(entries[0]["metadata"], ["actor": "bo", "reason": "abuse"])
    }

    func testIdempotencyKeysAreComparedParsedAndScopedByUser() throws {
        let h = try IngressHarness()
        let first = try h.post("/v1/usage", #"{"user_id":"u1","agent":"default","units":5,"idempotency_key":"k"}"#)
        XCTAssertEqual(first.status, 202)
        // Same fields, other order and spacing: the same job.
        let replay = try h.post("/v1/usage", #"{ "idempotency_key": "k", "units": 5, "agent": "default", "user_id": "u1" }"#)
        XCTAssertEqual(replay.status, 202)
        XCTAssertEqual(replay.json?["job_id"], first.json?["job_id"])
        // Same key, different units: 409, nothing new.
        let conflict = try h.post("/v1/usage", #"{"user_id":"u1","agent":"default","units":6,"idempotency_key":"k"}"#)
        XCTAssertEqual(conflict.status, 409)
        XCTAssertEqual(conflict.errorCode, "idempotency_conflict")
        // Another user's identical key is another request.
        let other = try h.post("/v1/usage", #"{"user_id":"u2","agent":"default","units":5,"idempotency_key":"k"}"#)
        XCTAssertEqual(other.status, 202)
        XCTAssertNotEqual(other.json?["job_id"], first.json?["job_id"])
        XCTAssertEqual(try h.jobCount(), 2)

        // Accounts are keyed by user: a second open is the same job; another referral code, 409.
        let open1 = try h.post("/v1/accounts", #"{"user_id":"u9"}"#)
        XCTAssertEqual(try h.post("/v1/accounts", #"{"user_id":"u9"}"#).json?["job_id"], open1.json?["job_id"])
        XCTAssertEqual(try h.post("/v1/accounts", #"{"user_id":"u9","referral_code":"X"}"#).status, 409)

        // Crypto purchases with a key: a replay answers the first purchase id.
        let p1 = try h.post("/v1/purchases/crypto", #"{"user_id":"u1","product":"topup_100","coin":"eth","idempotency_key":"buy-1"}"#)
        let p2 = try h.post("/v1/purchases/crypto", #"{"user_id":"u1","product":"topup_100","coin":"eth","idempotency_key":"buy-1"}"#)
        XCTAssertEqual(p1.json?["purchase_id"], p2.json?["purchase_id"])
        XCTAssertEqual(p1.json?["job_id"], p2.json?["job_id"])
        XCTAssertEqual(try h.post("/v1/purchases/crypto", #"{"user_id":"u1","product":"topup_100","coin":"btc","idempotency_key":"buy-1"}"#).status, 409)
        XCTAssertEqual(try h.jobCount("crypto.quote"), 1)
    }

    func testConcurrentReplaysGetOneJob() async throws {
        let h = try IngressHarness()
        let body = #"{"user_id":"u1","agent":"default","units":5,"idempotency_key":"same"}"#
        let ids = try await withThrowingTaskGroup(of: Int64?.self) { group in
            for _ in 0..<20 { group.addTask { try await h.postAsync("/v1/usage", body).json?["job_id"]?.int64 } }
            return try await group.reduce(into: Set<Int64?>()) { $0.insert($1) }
        }
        XCTAssertEqual(ids.count, 1)
        XCTAssertEqual(try h.jobCount(), 1)
    }

    func testShowJob() throws {
        let h = try IngressHarness()
        let id = try XCTUnwrap(h.post("/v1/usage", #"{"user_id":"u1","agent":"default","units":5,"idempotency_key":"k"}"#).json?["job_id"]?.int64)
        let r = try h.request("GET", "/v1/jobs/\(id)")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.json, ["id": .int(id), "kind": "usage.record", "state": "available", "attempt": 0, "result": nil, "errors": []])
        try h.db.connect().query("""
            UPDATE jobs SET state = 'retryable', attempt = 1,
                errors = '[{"at": "2026-11-21T15:41:00Z", "attempt": 1, "message": "boom"}]' WHERE id = $1
            """, [id])
        let r2 = try h.request("GET", "/v1/jobs/\(id)")
        XCTAssertEqual(r2.json?["errors"], [["at": "2026-11-21T15:41:00.000Z", "attempt": 1, "message": "boom"]])
        XCTAssertEqual(try h.request("GET", "/v1/jobs/999999").status, 404)
        XCTAssertEqual(try h.request("GET", "/v1/jobs/\(id)", auth: false).status, 401)
    }

    func testRateLimitAnswers429WithRetryAfterAndConflictsFirst() throws {
        let h = try IngressHarness(environment: ["TALLY_RATE_LIMIT": "0.5", "TALLY_RATE_BURST": "2"])
        func usage(_ key: String, units: Int = 1) throws -> RawHTTPClient.Response {
            try h.post("/v1/usage", #"{"user_id":"u1","agent":"default","units":\#(units),"idempotency_key":"\#(key)"}"#)
        }
        XCTAssertEqual(try usage("a").status, 202)
        XCTAssertEqual(try usage("b").status, 202)
        let limited = try usage("c")
        XCTAssertEqual(limited.status, 429)
        XCTAssertEqual(limited.errorCode, "rate_limited")
        XCTAssertEqual(limited.headers["retry-after"], "2")
        // DESIGN.md checks 409 before 429: a conflicting key says so even when limited.
        XCTAssertEqual(try usage("a", units: 9).status, 409)
        // 400 comes before 429 too, and the health checks are never limited.
        XCTAssertEqual(try h.post("/v1/usage", "{}").status, 400)
        XCTAssertEqual(try h.request("GET", "/healthz", auth: false).status, 200)
        XCTAssertEqual(try h.jobCount(), 2)
    }

    func testMetricsCountRequestsLatencyAndEnqueuedKinds() throws {
        let h = try IngressHarness()
        for i in 0..<3 { _ = try h.post("/v1/usage", #"{"user_id":"u1","agent":"default","units":1,"idempotency_key":"m\#(i)"}"#) }
        _ = try h.post("/v1/usage", "{}")
        _ = try h.request("GET", "/nowhere", auth: false)
        let text = try h.request("GET", "/metrics", auth: false).text
        XCTAssertTrue(text.contains(#"tally_ingress_requests_total{route="POST /v1/usage",status="202"} 3"#), text)
        XCTAssertTrue(text.contains(#"tally_ingress_requests_total{route="POST /v1/usage",status="400"} 1"#))
        XCTAssertTrue(text.contains(#"tally_ingress_requests_total{route="unmatched",status="404"} 1"#))
        XCTAssertTrue(text.contains(#"tally_ingress_request_duration_seconds_bucket{route="POST /v1/usage",le="+Inf"} 4"#))
        XCTAssertTrue(text.contains(#"tally_ingress_request_duration_seconds_count{route="POST /v1/usage"} 4"#))
        XCTAssertTrue(text.contains(#"tally_ingress_enqueued_jobs_total{kind="usage.record"} 3"#))
        XCTAssertTrue(text.contains("# TYPE tally_ingress_request_duration_seconds histogram"))
    }

    /// The credit statistics as gauges, read as the restricted ingress role may.
    func testMetricsCarryTheCreditStatistics() throws {
        let h = try IngressHarness()
        let c = try h.db.connect()
        try c.execute("INSERT INTO accounts (user_id, opened_by, debt) VALUES ('a', 'operator', 0), ('b', 'operator', 4)")
        XCTAssertEqual(try TallyRun.run(["grant", "a", "25", "--reason", "r", "--actor", "ops"], environment: ["DATABASE_URL": h.db.url]).status, 0)
        let text = try h.request("GET", "/metrics", auth: false).text
        for line in ["tally_ledger_accounts 2", #"tally_ledger_outstanding_credits{source="adjustment"} 25"#,
                     "tally_ledger_average_balance_credits 10", "tally_ledger_debt_credits 4", "tally_ledger_held_credits 0",
                     #"tally_ledger_entries_last_day{kind="adjustment"} 1"#, #"tally_ledger_entry_credits_last_day{kind="adjustment"} 25"#,
                     "# TYPE tally_ledger_accounts gauge"] {
            XCTAssertTrue(text.contains(line + "\n"), "\(line) in:\n\(text)")
        }
    }

    /// A read-only key (`tally apikey create NAME --scope read`) may GET, nothing else: 403
    /// `forbidden`, nothing enqueued. Made by the real command.
    func testAReadOnlyKeyMayOnlyGet() throws {
        let h = try IngressHarness()
        let made = try TallyRun.run(["apikey", "create", "dashboard", "--scope", "read", "--json"], environment: ["DATABASE_URL": h.db.url])
        XCTAssertEqual(made.status, 0, made.stderr)
        let created = try JSON.parse(made.stdout)
        XCTAssertEqual(created["scope"]?.string, "read")
        let key = try XCTUnwrap(created["key"]?.string)
        let auth = ["Authorization": "Bearer \(key)"]
        XCTAssertEqual(try h.request("GET", "/v1/accounts/u1/balance", headers: auth, auth: false).status, 404, "a GET is allowed (no such account)")
        let before = try h.jobCount()
        let refused = try h.request("POST", "/v1/usage", json: #"{"user_id":"u1","agent":"default","units":1,"idempotency_key":"k1"}"#,
                                    headers: auth, auth: false)
        XCTAssertEqual(refused.status, 403)
        XCTAssertEqual(refused.errorCode, "forbidden")
        XCTAssertEqual(try h.jobCount(), before, "nothing enqueued")
        let listed = try TallyRun.run(["apikey", "list", "--json"], environment: ["DATABASE_URL": h.db.url])
        XCTAssertEqual(try JSON.parse(listed.stdout).array?.compactMap { $0["scope"]?.string }.sorted(), ["all", "read"])
        let bad = try TallyRun.run(["apikey", "create", "x", "--scope", "write"], environment: ["DATABASE_URL": h.db.url])
        XCTAssertEqual(bad.status, 2)
    }
}
