import Foundation
import Postgres
import Support
import TestSupport
import XCTest

/// PostgreSQL restarted under load (`pg_ctl restart -m immediate`, in two halves so the test
/// can ask the ingress something while the database is down): meanwhile the ingress answers 503
/// within its request time; the workers and the ingress reconnect by themselves; afterwards
/// every request answered 2xx took effect exactly once.
final class PostgresRestartTests: XCTestCase {
    func testImmediateRestartUnderLoadLosesNoAcceptedRequestAndAppliesNoneTwice() async throws {
        let cluster = try PostgresCluster.create(name: "restart")
        let url = try cluster.migratedDatabase()
        let stack = try await ScaleStack(directURL: url, environment: ["DATABASE_URL": url],
                                         ingressEnvironment: ["TALLY_REQUEST_TIMEOUT": "5s"])
        let users = ["rs-a", "rs-b", "rs-c", "rs-d"]
        try await stack.openAccounts(users)
        let load = Task { await stack.sendUsage(800, users: users, prefix: "load") }
        let db = try Connection.connect(url)
        try await waitUntil("the load is under way") {
            try db.query("SELECT count(*) AS n FROM jobs WHERE kind = 'usage.record'").first?.int64("n") ?? 0 >= 100
        }
        try cluster.stop(mode: "immediate")
        let started = Date()
        let down = await stack.request("POST", "/v1/usage", body: #"{"user_id":"rs-a","agent":"default","units":1,"idempotency_key":"down"}"#)
        let answeredIn = Date().timeIntervalSince(started)
        XCTAssertEqual(down?.status, 503, down?.text ?? "no answer")
        XCTAssertLessThanOrEqual(answeredIn, 6, "503 within the request time (5 s)")
        try cluster.start()
        let during = await load.value
        // After: new requests go through on connections the processes made again by themselves.
        let after = await stack.sendUsage(40, users: users, prefix: "after")
        XCTAssertEqual(after.accepted.count, 40, "\(after.statuses)\n\(stack.logs)")
        var all = during
        all.accepted += after.accepted
        for (status, _) in during.statuses {
            XCTAssertTrue((200..<300).contains(status) || status == 503, "only 2xx and 503 while it restarted: \(during.statuses)")
        }
        XCTAssertTrue(stack.workers.allSatisfy { $0.process.isRunning } && stack.ingress.process.isRunning, "no process died")
        try await stack.verifyExactlyOnce(all, users: users)
        let refused = try Connection.connect(url).query("SELECT count(*) AS n FROM jobs WHERE unique_key = 'usage:rs-a:down'").first?.int64("n")
        XCTAssertEqual(refused, 0, "the request answered 503 while the database was down left nothing")
    }
}
