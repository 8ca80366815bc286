import Foundation
import Postgres
import Support
import TestSupport
import XCTest

/// `ops/drill failover` (skipped unless TALLY_DRILL names it: it takes a minute and two
/// clusters): a primary and a synchronous streaming standby, the ingress and two workers on a
/// multi-host `DATABASE_URL` with `target_session_attrs=read-write`; the primary is killed with
/// -9 under load and the standby promoted. Every process must find the new primary by itself,
/// and no request answered 2xx may be lost. Prints the time without service.
final class FailoverDrillTests: XCTestCase {
    func testFailoverToASynchronousStandbyLosesNoAcceptedRequest() async throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["TALLY_DRILL"] == "failover", "ops/drill failover runs this")
        let a = try PostgresCluster.create(name: "a", settings: ["synchronous_commit=on"])
        let directA = try a.migratedDatabase()
        // A standby whose primary is gone retries the stream every wal_retrieve_retry_interval
        // (5 s by default), and a promotion waits for that: 5.2 s from the kill measured here,
        // 0.4 s with 100 ms.
        let b = try a.standby(name: "b", settings: ["wal_retrieve_retry_interval=100ms"])
        // Synchronous from here on: a COMMIT returns once the standby has flushed it.
        let adminA = try Connection.connect(a.url())
        try adminA.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        try adminA.query("SELECT pg_reload_conf()")
        try await waitUntil("the standby is synchronous", timeout: 30) {
            try adminA.query("SELECT count(*) AS n FROM pg_stat_replication WHERE sync_state = 'sync'").first?.int64("n") == 1
        }
        // libpq tries the hosts in order and keeps the first that takes writes; every
        // reconnect (pool, LISTEN) is a full connect, so it finds whichever is primary now.
        let multiHost = "postgresql:///tally?host=\(a.socketDirectory),\(b.socketDirectory)&port=\(a.port),\(b.port)"
            + "&user=\(PostgresCluster.ownerName)&target_session_attrs=read-write&connect_timeout=2"
        let stack = try await ScaleStack(directURL: directA, environment: ["DATABASE_URL": multiHost],
                                         ingressEnvironment: ["TALLY_REQUEST_TIMEOUT": "5s"])
        let users = (0..<8).map { "fo-\($0)" }
        try await stack.openAccounts(users)
        let times = LockedBox<[Double]>([])
        let start = Date()
        let load = Task { await stack.sendUsage(3000, users: users, prefix: "fo", concurrency: 8, accepted: { times.mutate { $0.append(Date().timeIntervalSince(start)) } }) }
        let dbA = try Connection.connect(directA)
        try await waitUntil("the load is under way") {
            try dbA.query("SELECT count(*) AS n FROM jobs WHERE kind = 'usage.record'").first?.int64("n") ?? 0 >= 500
        }
        let killedAt = Date().timeIntervalSince(start)
        a.kill9()
        try b.promote()
        let promotedAt = Date().timeIntervalSince(start)
        let result = await load.value
        let after = times.value.filter { $0 > killedAt }.min()
        let gap = zip(times.value.sorted(), times.value.sorted().dropFirst()).map { $1 - $0 }.max() ?? 0
        let directB = b.url("tally")
        stack.directURL = directB
        try await stack.verifyExactlyOnce(result, users: users, timeout: 120)
        XCTAssertTrue(stack.workers.allSatisfy { $0.process.isRunning } && stack.ingress.process.isRunning, "no process died\n\(stack.logs)")
        // Requests answered 2xx after the kill were enqueued on the promoted standby, and
        // verifyExactlyOnce saw their jobs completed there: both sides found it.
        let acceptedAfter = times.value.filter { $0 > killedAt }.count
        XCTAssertGreaterThan(acceptedAfter, 0, "the ingress enqueued on the new primary\n\(stack.logs)")
        // The LISTEN connections (the ingress's and each worker's) came back on the new primary.
        let onB = try Connection.connect(directB)
        try await waitUntil("three LISTEN connections on the new primary", timeout: 30) {
            try onB.query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'tally-listener'").first?.int64("n") == 3
        }
        let lost = try Connection.connect(directB).query("SELECT count(*) AS n FROM unnest($1::text[]) r WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.reference = r)",
                                                         [result.accepted.map { "usage:\($0.user):\($0.key)" }]).first?.int64("n") ?? -1
        XCTAssertEqual(lost, 0)
        let downFor = (after ?? .infinity) - killedAt
        let statuses = result.statuses.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ")
        print("drill: failover: 3000 requests, \(result.accepted.count) answered 2xx (\(acceptedAfter) after the kill), \(lost) lost; answers by status \(statuses)")
        print(String(format: "drill: failover: promoted %.2f s after the kill; first 2xx %.2f s after the kill; longest gap between 2xx answers %.2f s",
                     promotedAt - killedAt, downFor, gap))
    }
}
