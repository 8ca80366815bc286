import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import Worker
import XCTest

/// Helpers for the rewards, rollover and notification tests.
enum RewardsFixtures {
    /// A worker pool in this process with the standard kinds, running until `shutdown`.
    final class InProcessWorker: @unchecked Sendable {
        // @unchecked: `pool` is Sendable; `task` is only touched by the test that owns this.
        let pool: WorkerPool
        let task: Task<Void, Error>

        /// Cron schedules are off unless `env` turns one on (`TALLY_SCHEDULE_<NAME>`): a test
        /// runs the days it names, not today's occurrences.
        init(_ db: TestDatabase, queues: [String: Int] = ["default": 4, "notify": 8, "maintenance": 2], env: [String: String] = [:]) throws {
            var values = env
            for s in try JobRegistry.standard(environment: Environment([:])).schedules {
                let setting = "TALLY_SCHEDULE_" + s.name.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
                if values[setting] == nil { values[setting] = "off" }
            }
            let environment = Environment(values)
            let config = WorkerConfig(queues: queues, label: "test", environment: environment)
            let pool = WorkerPool(config: config, registry: try JobRegistry.standard(environment: environment), databaseURL: db.url,
                                  environment: environment)
            self.pool = pool
            task = Task { try await pool.run() }
        }

        func stop() async throws {
            pool.shutdown()
            try await task.value
        }
    }

    /// Enqueues one job and runs a worker until it finishes; returns its state and result.
    static func runJob(_ db: TestDatabase, kind: String, args: JSON, queue: String = "default", env: [String: String] = [:],
                       file: StaticString = #filePath, line: UInt = #line) async throws -> (state: String, result: JSON?) {
        let c = try db.connect()
        let id = try Enqueuer().enqueue(NewJob(kind: kind, args: args, queue: queue), on: c).id
        let worker = try InProcessWorker(db, queues: [queue: 2], env: env)
        try await waitUntil("job \(id) (\(kind)) finishes", file: file, line: line) {
            let state = try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [id])
            return state == "completed" || state == "discarded"
        }
        try await worker.stop()
        let row = try c.query("SELECT state::text AS state, result FROM jobs WHERE id = $1", [id]).first!
        return (try row.string("state"), try row.optJSON("result"))
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
    /// Runs a fan-out kind (credits.rollover, credits.expire) as of `asOf`: its planner and
    /// every batch it enqueued. Returns the planner's result.
    static func runFanOut(_ db: TestDatabase, kind: String, asOf: Date, env: [String: String] = [:],
                          file: StaticString = #filePath, line: UInt = #line) async throws -> JSON? {
        let c = try db.connect()
        let planner = try Enqueuer().enqueue(NewJob(kind: kind, args: ["as_of": .string(Timestamp.iso8601(asOf))], queue: "maintenance"), on: c).id
        let worker = try InProcessWorker(db, queues: ["maintenance": 2], env: env)
        try await waitUntil("\(kind) and its batches finish", file: file, line: line) {
            try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [planner]) == "completed"
                && db.int("SELECT count(*) FROM jobs WHERE kind = $1 AND state NOT IN ('completed', 'discarded', 'cancelled')", [kind]) == 0
        }
        try await worker.stop()
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
