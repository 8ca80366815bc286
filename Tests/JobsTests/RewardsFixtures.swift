import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// Helpers for the rewards, rollover and notification tests.
enum RewardsFixtures {
    /// Enqueues one job and runs a worker (no cron) until it finishes; returns its state and result.
    static func runJob(_ db: TestDatabase, kind: String, args: JSON, queue: String = "default", env: [String: String] = [:],
                       file: StaticString = #filePath, line: UInt = #line) async throws -> (state: String, result: JSON?) {
        let worker = try WorkerHarness(db, environment: env, queues: [queue: 2], cron: false)
        let done = try await worker.finished(try worker.enqueue(kind, args, queue: queue), file: file, line: line)
        await worker.stop()
        return (done.state, done.result)
    }

    /// Opens `count` accounts named `<prefix>00000`, `<prefix>00001`, … in one transaction (in `tx`).
    static func openAccounts(_ prefix: String, count: Int, on tx: Connection) throws -> [String] {
        let users = (0..<count).map { String(format: "\(prefix)%05d", $0) }
        for u in users { try Ledger.openAccount(u, openedBy: .signup, on: tx) }
        return users
    }

    static func openAccount(_ user: String, referralCode: String? = nil, on c: Connection) throws {
        try c.transaction { tx in _ = try Ledger.openAccount(user, referralCode: referralCode, openedBy: .signup, on: tx) }
    }

    /// A payment grant as Stripe or crypto would make it.
    @discardableResult
    static func pay(_ user: String, credits: Int64, source: GrantSource = .topup, expiresAt: Date? = nil, on c: Connection) throws -> LedgerChange {
        try c.transaction { tx in
            try Ledger.grant(NewGrant(userID: user, source: source, amount: credits, expiresAt: expiresAt,
                                      reference: "test-payment:\(user):\(Crypto.randomHex(6))"), on: tx)!
        }
    }
}

extension RewardsFixtures {
    /// Runs a fan-out kind (credits.rollover, credits.expire) as of `asOf` (nil: the database's
    /// now): its planner and every batch it enqueued. Returns the planner's result.
    static func runFanOut(_ db: TestDatabase, kind: String, asOf: Date? = nil, env: [String: String] = [:],
                          file: StaticString = #filePath, line: UInt = #line) async throws -> JSON? {
        let c = try db.connect()
        let worker = try WorkerHarness(db, environment: env, queues: ["maintenance": 2], cron: false)
        let planner = try worker.enqueue(kind, asOf.map { ["as_of": .string(Timestamp.iso8601($0))] } ?? [:], queue: "maintenance")
        try await waitUntil("\(kind) and its batches finish", file: file, line: line) {
            try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [planner]) == "completed"
                && db.int("SELECT count(*) FROM jobs WHERE kind = $1 AND state NOT IN ('completed', 'discarded', 'cancelled')", [kind]) == 0
        }
        await worker.stop()
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = $1 AND state <> 'completed'", [kind]), 0,
                       "every \(kind) job completed", file: file, line: line)
        return try c.query("SELECT result FROM jobs WHERE id = $1", [planner]).first?.optJSON("result")
    }

    /// Records a subscription as the Stripe events would.
    static func subscription(_ id: String, user: String, status: String, periodEnd: Date?, cancelAtPeriodEnd: Bool = false,
                             on c: Connection) throws {
        try c.query("""
            INSERT INTO subscriptions (id, user_id, status, current_period_end, cancel_at_period_end) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, current_period_end = EXCLUDED.current_period_end,
                cancel_at_period_end = EXCLUDED.cancel_at_period_end
            """, [id, user, status, periodEnd, cancelAtPeriodEnd])
    }
}
