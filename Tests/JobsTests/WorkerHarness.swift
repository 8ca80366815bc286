import Foundation
import JobRuntime
import Jobs
import Postgres
import Queue
import Support
import TestSupport
import Worker
import XCTest

/// An in-process worker pool (the standard registry) on a test database, and helpers to
/// enqueue jobs and wait for them.
final class WorkerHarness: @unchecked Sendable {
    // @unchecked: set up once in init; `task` is only touched by the test that owns it.
    let db: TestDatabase
    let pool: WorkerPool
    private var task: Task<Void, Never>?

    /// `cron: false` turns every cron schedule off (a test then runs the dates it names, not
    /// the occurrences due today), unless `environment` sets one (`TALLY_SCHEDULE_<NAME>`).
    init(_ db: TestDatabase, environment extra: [String: String] = [:],
         queues: [String: Int] = ["default": 20, "payments": 4, "maintenance": 2, "notify": 10], cron: Bool = true) throws {
        self.db = db
        var values = ProcessInfo.processInfo.environment
        values["TALLY_BACKOFF_SCALE"] = "0.001"
        values["TALLY_SCHEDULER_INTERVAL"] = "0.2"
        values["TALLY_POLL_INTERVAL"] = "0.5"
        if !cron { values.merge(try JobRegistry.schedulesOff()) { _, off in off } }
        for (k, v) in extra { values[k] = v }
        let environment = Environment(values)
        let config = try WorkerConfig(queues: queues, label: "test", environment: environment)
        pool = WorkerPool(config: config, registry: try JobRegistry.standard(environment: environment), databaseURL: db.url,
                          environment: environment)
        let pool = self.pool
        task = Task { try? await pool.run() }
    }

    func stop() async {
        pool.shutdown()
        await task?.value
        task = nil
    }

    deinit { pool.shutdown() }

    /// Enqueues one job; returns its id.
    @discardableResult
    func enqueue(_ kind: String, _ args: JSON, key: String? = nil, queue: String = "default") throws -> Int64 {
        let c = try db.connect()
        return try Enqueuer().enqueue(NewJob(kind: kind, args: args, queue: queue, uniqueKey: key), on: c).id
    }

    struct Finished {
        let state: String
        let result: JSON?
        let errors: JSON
    }

    /// Waits until the job is completed, discarded or cancelled.
    func finished(_ id: Int64, timeout: TimeInterval = 30, file: StaticString = #filePath, line: UInt = #line) async throws -> Finished {
        var found: Finished?
        try await waitUntil("job \(id) finishes", timeout: timeout, file: file, line: line) {
            let row = try self.db.connect().query("SELECT state::text AS state, result, errors FROM jobs WHERE id = $1", [id]).first!
            let state = try row.string("state")
            guard ["completed", "discarded", "cancelled"].contains(state) else { return false }
            found = Finished(state: state, result: try row.optJSON("result"), errors: try row.json("errors"))
            return true
        }
        return found!
    }

    func state(_ id: Int64) throws -> String {
        try db.connect().query("SELECT state::text AS state FROM jobs WHERE id = $1", [id]).first!.string("state")
    }
}

/// Stripe events for tests: fixtures (real basil shapes) with changes, stored in the inbox the
/// way the ingress stores them, and their stripe.event jobs.
enum StripeFixture {
    static func load(_ name: String) throws -> JSON { try JSON.parse(LedgerFixtures.fixture(name)) }

    /// `json` with the value at `path` replaced (objects along the path must exist).
    static func setting(_ json: JSON, _ path: [String], _ value: JSON) -> JSON {
        guard let first = path.first, case .object(var members) = json else { return json }
        if path.count == 1 {
            members[first] = value
        } else {
            members[first] = setting(members[first] ?? .object([:]), Array(path.dropFirst()), value)
        }
        return .object(members)
    }

    /// Stores the event in stripe_events (as the ingress does) and enqueues its job with the
    /// ingress's key; returns the job id.
    @discardableResult
    static func deliver(_ event: JSON, to harness: WorkerHarness) throws -> Int64 {
        let c = try harness.db.connect()
        let id = event["id"]!.string!
        try c.query("""
            INSERT INTO stripe_events (id, type, api_version, created, payload) VALUES ($1, $2, $3, to_timestamp($4::bigint), $5::jsonb)
            ON CONFLICT (id) DO NOTHING
            """, [id, event["type"]!.string!, event["api_version"]?.string, event["created"]!.int64!, event])
        let job = try harness.enqueue(StripeEventJob.kind, ["event_id": .string(id)], key: "stripe:\(id)", queue: "payments")
        try c.query("UPDATE stripe_events SET job_id = $2 WHERE id = $1 AND job_id IS NULL", [id, job])
        return job
    }

    /// A copy of an event with another id and `created`.
    static func variant(_ event: JSON, id: String, created: Int64) -> JSON {
        setting(setting(event, ["id"], .string(id)), ["created"], .int(created))
    }
}
