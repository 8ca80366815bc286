import Foundation
import Postgres
import Support
import TestSupport
import XCTest

/// The ingress and two workers through a real PgBouncer in transaction pooling mode
/// (`TALLY_DB_PREPARED=off`): accounts, usage and a Stripe top-up each take effect exactly
/// once, with fewer server connections than clients (so transactions really hop between
/// server connections), the workers polling (no LISTEN) and the ingress's LISTEN on its
/// direct `TALLY_LISTEN_DATABASE_URL`.
final class PgBouncerTests: XCTestCase {
    func testIngressAndTwoWorkersThroughPgBouncerTransactionPoolingApplyEverythingOnce() async throws {
        let db = try TestDatabase.create()
        let env = ProcessInfo.processInfo.environment
        let bouncer = try PgBouncer(serverHost: env["PGHOST"] ?? "/tmp", serverPort: env["PGPORT"] ?? "5432", poolSize: 4)
        let pooled = bouncer.url(db.name)
        // Four server connections for 2 × 20 worker connections and the ingress's pool.
        let stack = try await ScaleStack(directURL: db.url, environment: ["DATABASE_URL": pooled, "TALLY_DB_PREPARED": "off"],
                                         ingressEnvironment: ["TALLY_LISTEN_DATABASE_URL": db.url])
        let users = ["pgb-a", "pgb-b", "pgb-c"]
        try await stack.openAccounts(users)
        let toppedUp = await stack.stripeTopUp("pgb-a", id: "pgb_topup_1")
        XCTAssertTrue(toppedUp, stack.logs)
        // A redelivery of the same event: acknowledged, applied once.
        let again = await stack.stripeTopUp("pgb-a", id: "pgb_topup_1")
        XCTAssertTrue(again)
        var load = await stack.sendUsage(300, users: users, prefix: "k")
        XCTAssertEqual(load.accepted.count, 300, "every usage request was accepted: \(load.statuses)\n\(stack.logs)")
        // Replays of accepted keys: answered again, never applied twice.
        let replays = await stack.sendUsage(30, users: users, prefix: "k")
        XCTAssertEqual(replays.accepted.count, 30, "\(replays.statuses)")
        load.accepted += replays.accepted
        // Prefer: wait answers through the direct LISTEN (the ingress polls nothing).
        let waited = await stack.request("POST", "/v1/usage", body: #"{"user_id":"pgb-b","agent":"default","units":1,"idempotency_key":"w1"}"#,
                                         headers: ["Prefer": "wait=10"])
        XCTAssertEqual(waited?.status, 200, waited?.text ?? "no answer")
        load.accepted.append(("pgb-b", "w1"))
        try await stack.verifyExactlyOnce(load, users: users, topUps: ["pgb-a": 500])

        let c = try db.connect()
        let topups = try c.query("SELECT count(*) AS n FROM ledger_entries WHERE user_id = 'pgb-a' AND kind = 'topup'").first?.int64("n")
        XCTAssertEqual(topups, 1, "the top-up and its redelivery made one entry")
        // The server side saw at most the pool's four connections from PgBouncer (the ingress's
        // direct LISTEN and this check connection come on top).
        let serverConnections = try c.query("""
            SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()
              AND application_name <> 'tally-listener'
            """, [db.name]).first?.int64("n") ?? 99
        XCTAssertLessThanOrEqual(serverConnections, 4, "PgBouncer pooled the clients' connections")
        XCTAssertTrue(stack.workers.allSatisfy { $0.log.contains("no LISTEN connection") }, "the workers poll: \(stack.logs)")
        XCTAssertFalse(bouncer.log.contains("prepared statement"), bouncer.log)
    }
}
