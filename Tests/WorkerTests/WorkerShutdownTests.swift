import Foundation
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// A real `tally worker` told to stop while PostgreSQL is away (issue 10, item 2): it exits
/// within TALLY_SHUTDOWN_GRACE + 5 s whatever the database does, and the jobs it could not
/// give back are left to their leases. The worker reaches the database through a proxy the
/// test cuts, so the cluster the other tests share keeps running.
final class WorkerShutdownTests: XCTestCase {
    static let grace = 3.0

    func testSIGTERMWhileTheDatabaseRefusesConnectionsExitsWithinGracePlusFive() async throws {
        try await stopWhileCut("refused") { $0.refuse() }
    }

    func testSIGTERMWhileTheDatabaseAcceptsButNeverAnswersExitsWithinGracePlusFive() async throws {
        try await stopWhileCut("blackholed") { $0.blackhole() }
    }

    /// Two jobs that run past the grace period and one that ends inside it, after the cut:
    /// its outcome cannot be written, so the completer has work it cannot do.
    private func stopWhileCut(_ what: String, _ cut: (PostgresProxy) -> Void) async throws {
        let db = try TestDatabase.create()
        let proxy = try PostgresProxy()
        let c = try db.connect()
        let long = try Enqueuer().enqueue((0..<2).map { _ in NewJob(kind: "bench.effect", args: ["sleep_ms": 120_000], queue: "default") }, on: c)
        let short = try Enqueuer().enqueue(NewJob(kind: "bench.effect", args: ["sleep_ms": 1500], queue: "default"), on: c)
        let ids = long.map(\.id) + [short.id]
        let worker = try TallyProcess(["worker", "--id", "cut", "--queues", "default=4"], environment: [
            "DATABASE_URL": proxy.url(database: db.name), "TALLY_SHUTDOWN_GRACE": "\(Int(Self.grace))s", "TALLY_LOG_LEVEL": "info",
        ])
        try await waitUntil("the worker runs all three jobs") {
            try db.int("SELECT count(*) FROM jobs WHERE state = 'running' AND locked_by LIKE 'cut/%'") == 3
        }
        cut(proxy)
        let start = Date()
        worker.signal(SIGTERM)
        // Waits a little past the promise, to say by how much it was missed.
        let status: Int32
        do { status = try await worker.waitForExit(timeout: Self.grace + 10) } catch {
            XCTFail("still running \(Self.grace + 10) s after SIGTERM with the database \(what): \(worker.log)")
            throw error
        }
        let took = Date().timeIntervalSince(start)
        print("worker stopped with the database \(what) in \(String(format: "%.2f", took)) s (grace \(Self.grace) s)")
        XCTAssertLessThanOrEqual(took, Self.grace + 5, "exit within TALLY_SHUTDOWN_GRACE + 5 s: \(worker.log)")
        XCTAssertEqual(status, 0, "a graceful stop, even without the database: \(worker.log)")
        // Nothing could be written: every job is still running under this worker's lease,
        // which lapses and lets another worker rescue it; no effect was applied.
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE id = ANY($1::bigint[]) AND state = 'running' AND locked_by LIKE 'cut/%'", [ids]), 3)
        XCTAssertEqual(try db.int("SELECT count(*) FROM bench_effects"), 0)
        XCTAssertTrue(worker.log.contains("left to their lease"), worker.log)
    }
}
