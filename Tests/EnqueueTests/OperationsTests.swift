import Enqueue
import Foundation
import Postgres
import Support
import TestSupport
import XCTest

/// PostgreSQL outages, the restricted role, and the real `tally ingress` binary.
final class OperationsTests: XCTestCase {
    func testDatabaseDownAnswers503AndRecoversByItself() async throws {
        let h = try IngressHarness()
        let body = #"{"user_id":"u1","agent":"default","units":1,"idempotency_key":"%@"}"#
        let before = try await h.postAsync("/v1/usage", body.replacingOccurrences(of: "%@", with: "before"))
        XCTAssertEqual(before.status, 202)
        // Take the database away: no new connections, existing ones terminated.
        let admin = try Connection.connect(TestDatabase.url(for: "postgres"))
        try admin.execute("ALTER DATABASE \(h.db.name) ALLOW_CONNECTIONS false")
        try admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [h.db.name])
        let down = try await h.postAsync("/v1/usage", body.replacingOccurrences(of: "%@", with: "during"))
        XCTAssertEqual(down.status, 503, down.text)
        XCTAssertEqual(down.errorCode, "unavailable")
        XCTAssertEqual(down.headers["retry-after"], "1")
        let ready = try await RawHTTPClient.run { try h.request("GET", "/readyz", auth: false) }
        XCTAssertEqual(ready.status, 503)
        let health = try await RawHTTPClient.run { try h.request("GET", "/healthz", auth: false) }
        XCTAssertEqual(health.status, 200)
        // Back: the ingress recovers without a restart.
        try admin.execute("ALTER DATABASE \(h.db.name) ALLOW_CONNECTIONS true")
        try await waitUntil("the ingress enqueues again") {
            try await h.postAsync("/v1/usage", body.replacingOccurrences(of: "%@", with: "after")).status == 202
        }
        XCTAssertEqual(try h.db.int("SELECT count(*) FROM jobs WHERE unique_key = 'usage:u1:during'"), 0)
        XCTAssertEqual(try h.db.int("SELECT count(*) FROM jobs WHERE unique_key = 'usage:u1:after'"), 1)
        // The LISTEN connection came back too: waiting works.
        try await waitUntil("the listener reconnected") {
            try h.db.int("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'tally-listener'", [h.db.name]) == 1
        }
    }

    /// The ingress runs as a login role that only inherits `tally_ingress`, and that role
    /// cannot change jobs or write any other table.
    func testIngressWorksUnderTheRestrictedRoleWhichCannotWriteElsewhere() async throws {
        let db = try TestDatabase.create()
        let role = "tally_ingress_t" + Crypto.randomHex(4)
        let admin = try db.connect()
        try admin.execute("CREATE ROLE \(role) LOGIN IN ROLE tally_ingress")
        defer {
            db.drop()
            _ = try? Connection.connect(TestDatabase.url(for: "postgres")).execute("DROP ROLE IF EXISTS \(role)")
        }
        let roleURL = "postgresql://\(role)@/\(db.name)"
        let h = try IngressHarness(environment: ["TALLY_INGRESS_DATABASE_URL": roleURL], database: db)
        let usage = try await h.postAsync("/v1/usage", #"{"user_id":"u1","agent":"default","units":1,"idempotency_key":"k"}"#)
        XCTAssertEqual(usage.status, 202, usage.text)
        let event = #"{"id":"evt_role","type":"charge.refunded","created":1756300000}"#
        let stripe = try await RawHTTPClient.run {
            try h.request("POST", "/webhooks/stripe", json: event,
                          headers: ["Stripe-Signature": IngressHarness.stripeSignature(Array(event.utf8))], auth: false)
        }
        XCTAssertEqual(stripe.status, 200, stripe.text)
        // It reads whether a product exists (sql/0010) to refuse purchases that cannot be made.
        let purchase = try await h.postAsync("/v1/purchases/crypto", #"{"user_id":"u1","product":"topup_100","coin":"btc"}"#)
        XCTAssertEqual(purchase.status, 202, purchase.text)
        let unknown = try await h.postAsync("/v1/purchases/crypto", #"{"user_id":"u1","product":"nope","coin":"btc"}"#)
        XCTAssertEqual(unknown.status, 400, unknown.text)
        let id = try h.db.int("SELECT min(id) FROM jobs")
        let show = try await RawHTTPClient.run { try h.request("GET", "/v1/jobs/\(id)") }
        XCTAssertEqual(show.status, 200)
        XCTAssertEqual(try h.db.scalar("SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'tally-%'", [db.name]), role)

        let asRole = try Connection.connect(roleURL)
        let forbidden = [
            "UPDATE jobs SET state = 'completed'",
            "DELETE FROM jobs",
            "UPDATE products SET credits = 1000000",
            "UPDATE stripe_events SET type = 'x'",
            "DELETE FROM stripe_events",
            "INSERT INTO api_keys (name, key_hash, key_prefix) VALUES ('x', repeat('a', 64), 'x')",
            "UPDATE api_keys SET revoked_at = now()",
            "INSERT INTO queues (name, paused) VALUES ('q', true)",
            "INSERT INTO workers (id, label, host, pid, queues) VALUES ('w', 'w', 'h', 1, '{}')",
            "INSERT INTO cron_schedules (name, last_enqueued_at) VALUES ('c', now())",
            "INSERT INTO bench_effects (job_id, attempt, worker) VALUES (1, 1, 'w')",
            "CREATE TABLE sneaky (id int)",
        ]
        for sql in forbidden {
            XCTAssertThrowsError(try asRole.execute(sql), sql) { error in
                XCTAssertEqual((error as? PostgresError)?.sqlState, "42501", "\(sql): \(error)")
            }
        }
        XCTAssertEqual(try h.db.int("SELECT count(*) FROM jobs WHERE state = 'completed'"), 0)
    }

    /// The real binary: `tally apikey` and `tally ingress` as an operator runs them.
    func testTallyIngressBinaryServesAndStopsOnSIGTERM() async throws {
        let db = try TestDatabase.create()
        let env = ["DATABASE_URL": db.url, "TALLY_LISTEN": "127.0.0.1:0", "STRIPE_WEBHOOK_SECRET": "", "BITGO_WEBHOOK_SECRET": "b",
                   "TALLY_LOG_LEVEL": "info", "TALLY_APIKEY_REFRESH": "200ms"]
        let created = try TallyRun.run(["apikey", "create", "my app"], environment: env)
        XCTAssertEqual(created.status, 0, created.stderr)
        let key = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(key.hasPrefix("tally_") && key.count == 70 && !key.contains("\n"), "the key alone on its line: \(created.stdout)")
        XCTAssertEqual(try db.int("SELECT count(*) FROM api_keys WHERE key_hash = $1", [APIKey.hash(key)]), 1, "stored hashed")
        XCTAssertEqual(try db.int("SELECT count(*) FROM api_keys WHERE key_hash = $1 OR key_prefix = $1", [key]), 0, "never stored in clear")
        let list = try TallyRun.run(["apikey", "list", "--json"], environment: env)
        XCTAssertEqual(try JSON.parse(list.stdout)[0]?["name"], "my app")
        XCTAssertFalse(list.stdout.contains(key))

        let process = try TallyProcess(["ingress"], environment: env)
        func loggedPort() -> UInt16? {
            guard let line = process.log.split(separator: "\n").first(where: { $0.contains("ingress listening") }),
                  let range = line.range(of: "address=127.0.0.1:") else { return nil }
            return UInt16(line[range.upperBound...].prefix { $0.isNumber })
        }
        try await waitUntil("tally ingress logs its address") { loggedPort() != nil }
        let port = try XCTUnwrap(loggedPort())
        XCTAssertTrue(process.log.contains("POST /webhooks/stripe (STRIPE_WEBHOOK_SECRET is not set)"), process.log)
        let r = try await RawHTTPClient.run {
            try RawHTTPClient(port: port).request("POST", "/v1/usage", headers: ["Authorization": "Bearer \(key)"],
                                                  body: #"{"user_id":"u1","agent":"default","units":2,"idempotency_key":"bin"}"#)
        }
        XCTAssertEqual(r.status, 202, r.text)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = 'usage.record'"), 1)
        let stripe = try await RawHTTPClient.run { try RawHTTPClient(port: port).request("POST", "/webhooks/stripe", body: "{}") }
        XCTAssertEqual(stripe.status, 503)

        // Revoked keys are refused within TALLY_APIKEY_REFRESH.
        let keyID = try db.int("SELECT id FROM api_keys")
        XCTAssertEqual(try TallyRun.run(["apikey", "revoke", String(keyID)], environment: env).status, 0)
        XCTAssertEqual(try TallyRun.run(["apikey", "revoke", "999"], environment: env).status, 1)
        try await waitUntil("the revoked key is refused") {
            try await RawHTTPClient.run { try RawHTTPClient(port: port).request("GET", "/v1/jobs/1", headers: ["Authorization": "Bearer \(key)"]) }.status == 401
        }

        process.signal(SIGTERM)
        let status = try await process.waitForExit(timeout: 20)
        XCTAssertEqual(status, 0, process.log)
    }
}
