import Foundation
import JobRuntime
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// credits.rollover over 10,000 accounts on two real `tally worker` processes, one killed with
/// kill -9 midway: every account rolled exactly once, capped, and the ledger verifies.
final class RolloverCrashTests: XCTestCase {
    func testTenThousandAccountsRollOverOnceWithAWorkerKilledMidway() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let count = 10_000
        let expired = Date().addingTimeInterval(-3600)
        let users = (0..<count).map { String(format: "member%05d", $0) }
        // Left in the expired subscription grant: 100 to 499 (under, at and over the cap of 250).
        func left(_ i: Int) -> Int64 { 100 + Int64(i * 7 % 400) }
        func ended(_ i: Int) -> Bool { i % 10 == 0 }        // canceled: nothing rolls
        func renewed(_ i: Int) -> Bool { i % 3 == 0 }       // next month's grant already there
        var expected: [Int64] = []
        for i in 0..<count { expected.append(ended(i) ? 0 : min(left(i), 250)) }

        let setup = Date()
        try c.transaction { tx in
            try tx.query("INSERT INTO accounts (user_id, opened_by) SELECT unnest($1::text[]), 'operator'", [users])
            try tx.query("""
                INSERT INTO subscriptions (id, user_id, status, current_period_end)
                SELECT 'sub_' || u, u, CASE WHEN e THEN 'canceled' ELSE 'active' END, $2::timestamptz
                FROM unnest($1::text[], $3::boolean[]) AS s(u, e)
                """, [users, expired, (0..<count).map(ended)])
            let book = LedgerBook(tx)
            try book.load(users)
            let renewals = (0..<count).filter(renewed)
            try book.reserveGrantIDs(count + renewals.count)
            try book.prefetch(references: users.map { "sub:\($0):1" } + renewals.map { "sub:\(users[$0]):2" })
            for (i, u) in users.enumerated() {
                try book.grant(NewGrant(userID: u, source: .subscription, amount: left(i), expiresAt: expired, reference: "sub:\(u):1"))
                if renewed(i) {
                    try book.grant(NewGrant(userID: u, source: .subscription, amount: 250, expiresAt: expired.addingTimeInterval(30 * 86400),
                                            reference: "sub:\(u):2"))
                }
            }
            try book.commit()
        }
        print("rollover crash test: set up \(count) accounts in \(String(format: "%.1f", Date().timeIntervalSince(setup))) s")

        var env = ["DATABASE_URL": db.url, "TALLY_LEASE": "2s", "TALLY_RESCUE_INTERVAL": "250ms", "TALLY_ROLLOVER_BATCH": "1000"]
        env.merge(try JobRegistry.schedulesOff()) { _, off in off }
        let a = try TallyProcess(["worker", "--id", "a", "--queues", "maintenance=2"], environment: env)
        let b = try TallyProcess(["worker", "--id", "b", "--queues", "maintenance=2"], environment: env)
        defer { a.signal(SIGKILL); b.signal(SIGKILL) }
        try await waitUntil("both workers are up") { try db.int("SELECT count(*) FROM workers") == 2 }

        let started = Date()
        let planner = try Enqueuer().enqueue(NewJob(kind: "credits.rollover", args: ["as_of": .string(Timestamp.iso8601(Date()))],
                                                    queue: "maintenance"), on: c).id
        let batches = "kind = 'credits.rollover' AND args ? 'through'"
        try await waitUntil("a batch completed and worker a is settling another", timeout: 60) {
            try db.int("SELECT count(*) FROM jobs WHERE \(batches) AND state = 'completed'") >= 1
                && db.int("SELECT count(*) FROM jobs WHERE \(batches) AND state = 'running' AND locked_by LIKE 'a/%'") >= 1
        }
        a.signal(SIGKILL)
        _ = try await a.waitForExit()
        let killedAt = Date().timeIntervalSince(started)
        let inFlight = try c.query(Query(adHoc: "SELECT id FROM jobs WHERE \(batches) AND state = 'running' AND locked_by LIKE 'a/%'"))
            .map { try $0.int64("id") }
        let doneAtKill = try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'rollover.settle'")

        try await waitUntil("every batch completed", timeout: 120) {
            try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [planner]) == "completed"
                && db.int("SELECT count(*) FROM jobs WHERE kind = 'credits.rollover' AND state <> 'completed'") == 0
        }
        let elapsed = Date().timeIntervalSince(started)
        print("rollover crash test: \(count) accounts rolled over in \(String(format: "%.2f", elapsed)) s on 2 workers "
              + "(worker a killed at \(String(format: "%.2f", killedAt)) s with \(inFlight.count) batch(es) in flight, "
              + "\(doneAtKill) accounts settled by then)")
        b.signal(SIGTERM)
        let status = try await b.waitForExit()
        XCTAssertEqual(status, 0, b.log)

        XCTAssertEqual(try db.int("SELECT (result->>'batches')::int FROM jobs WHERE id = $1", [planner]), 10)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE \(batches)"), 10)
        XCTAssertGreaterThan(doneAtKill, 0, "killed midway: some accounts were settled before")
        XCTAssertLessThan(doneAtKill, Int64(count), "killed midway: some accounts were not settled yet")
        XCTAssertFalse(inFlight.isEmpty, "worker a died holding a batch")
        for id in inFlight {
            XCTAssertEqual(try db.scalar("SELECT state::text || '/' || attempt FROM jobs WHERE id = $1", [id]), "completed/2",
                           "the killed worker's batch was rescued and done once by the other")
            XCTAssertEqual(try db.scalar("SELECT locked_by LIKE 'b/%' FROM jobs WHERE id = $1", [id]), "t")
        }
        // Exactly once per account.
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'rollover.settle'"), Int64(count))
        XCTAssertEqual(try db.int("SELECT count(DISTINCT user_id) FROM ledger_entries WHERE kind = 'rollover.settle'"), Int64(count))
        XCTAssertEqual(try db.int("SELECT count(*) FROM grants WHERE source = 'subscription' AND expires_at <= now() AND remaining > 0"), 0)
        // Capped correctly: each account's rollover grant is min(left, 250), none when canceled.
        XCTAssertEqual(try db.int("""
            SELECT count(*) FROM unnest($1::text[], $2::bigint[]) AS x(u, want)
            LEFT JOIN (SELECT user_id, sum(amount) AS got, count(*) AS n FROM grants WHERE source = 'rollover' GROUP BY user_id) g
                   ON g.user_id = x.u
            WHERE COALESCE(g.got, 0) <> x.want OR COALESCE(g.n, 0) > 1
            """, [users, expected]), 0, "every account rolled min(left, 250) in one grant")
        XCTAssertEqual(try db.int("SELECT COALESCE(sum(amount), 0) FROM grants WHERE source = 'rollover'"), expected.reduce(0, +))
        XCTAssertEqual(try db.int("SELECT count(*) FROM grants WHERE source = 'rollover' AND expires_at <> $1::timestamptz + interval '30 days' AND user_id = ANY($2::text[])",
                                  [expired, (0..<count).filter(renewed).map { users[$0] }]), 0,
                       "with the renewal known, the rollover expires with it")
        try LedgerFixtures.assertVerified(c)
        let verify = try TallyRun.run(["ledger", "verify"], environment: ["DATABASE_URL": db.url])
        XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)
    }
}
