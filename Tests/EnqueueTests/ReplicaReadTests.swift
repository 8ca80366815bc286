import Foundation
import Postgres
import Support
import TestSupport
import XCTest

/// `TALLY_READ_DATABASE_URL`: the GET endpoints read from a real streaming replica
/// (`pg_basebackup -R` of a cluster of the test's own); `Prefer: wait` answers and every write
/// use the primary.
final class ReplicaReadTests: XCTestCase {
    func testGetEndpointsReadTheReplicaAndWaitingAnswersThePrimary() async throws {
        let primary = try PostgresCluster.create(name: "primary")
        let primaryURL = try primary.migratedDatabase()
        let replica = try primary.standby(name: "replica")
        let replicaURL = replica.url("tally")
        let stack = try await ScaleStack(directURL: primaryURL, environment: ["DATABASE_URL": primaryURL],
                                         ingressEnvironment: ["TALLY_READ_DATABASE_URL": replicaURL], workers: 1)
        try await stack.openAccounts(["r1"])
        func shownBalance() async -> Int64? { await stack.request("GET", "/v1/accounts/r1")?.json?["balance"]?.int64 }
        // Replication catches up: the replica's answer becomes the trial's.
        try await waitUntil("the replica shows the new account", timeout: 30) { await shownBalance() == ScaleStack.trialCredits }

        // Replay paused: the replica stands still while the primary moves on.
        let replicaAdmin = try Connection.connect(replica.url())
        try replicaAdmin.query("SELECT pg_wal_replay_pause()")
        try await waitUntil("replay is paused") {
            try replicaAdmin.query("SELECT pg_get_wal_replay_pause_state() AS s").first?.string("s") == "paused"
        }
        let waited = await stack.request("POST", "/v1/usage", body: #"{"user_id":"r1","agent":"default","units":7,"idempotency_key":"r-1"}"#,
                                         headers: ["Prefer": "wait=10"])
        XCTAssertEqual(waited?.status, 200, "the waiting answer comes from the primary: \(waited?.text ?? "no answer")\n\(stack.logs)")
        let onPrimary = try Connection.connect(primaryURL).query("SELECT sum(amount) AS b FROM ledger_entries WHERE user_id = 'r1'").first?.int64("b")
        XCTAssertEqual(onPrimary, ScaleStack.trialCredits - 7)
        let stale = await shownBalance()
        XCTAssertEqual(stale, ScaleStack.trialCredits, "GET /v1/accounts reads the paused replica, not the primary")
        let job = await stack.request("GET", "/v1/jobs/\(waited?.json?["job_id"]?.int64 ?? 0)")
        XCTAssertEqual(job?.status, 404, "the job is not on the paused replica yet: \(job?.text ?? "")")
        let readers = try replicaAdmin.query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'tally-ingress-read'")
            .first?.int64("n") ?? 0
        XCTAssertGreaterThanOrEqual(readers, 1, "the ingress holds connections to the replica")

        try replicaAdmin.query("SELECT pg_wal_replay_resume()")
        try await waitUntil("the replica catches up", timeout: 30) { await shownBalance() == ScaleStack.trialCredits - 7 }

        // The replica down: reads fall back to the primary instead of failing.
        try replica.stop(mode: "immediate")
        let fallback = await stack.request("GET", "/v1/accounts/r1")
        XCTAssertEqual(fallback?.status, 200, fallback?.text ?? "no answer")
        XCTAssertEqual(fallback?.json?["balance"]?.int64, ScaleStack.trialCredits - 7)
    }
}
