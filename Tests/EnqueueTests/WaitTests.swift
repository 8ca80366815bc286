import Dispatch
import Enqueue
import Foundation
import Support
import TestSupport
import XCTest

/// `Prefer: wait=N`: the answer waits for the job's outcome, woken by the shared LISTEN
/// connection. A "worker" here is the test finishing the job the way the worker pool does
/// (state, result and `NOTIFY tally_job_finished` in one transaction).
final class WaitTests: XCTestCase {
    static func usage(_ h: IngressHarness, key: String, wait: Int) async throws -> RawHTTPClient.Response {
        try await h.postAsync("/v1/usage", #"{"user_id":"u1","agent":"default","units":3,"idempotency_key":"\#(key)"}"#,
                              headers: ["Prefer": "wait=\(wait)"])
    }

    /// Finishes the job with `key` as soon as it exists, like a worker would.
    func finishWhenEnqueued(_ h: IngressHarness, key: String, result: String) -> Task<Void, any Error> {
        Task.detached {
            var id: Int64 = 0
            try await waitUntil("the job is enqueued") {
                id = (try? h.db.int("SELECT id FROM jobs WHERE unique_key = $1", ["usage:u1:\(key)"])) ?? 0
                return id > 0
            }
            XCTAssertEqual(try h.db.scalar("SELECT notify_finish::text FROM jobs WHERE id = $1", [id]), "true")
            try h.finishJob(id, result: result)
        }
    }

    func testWaitAnswersTheOutcome() async throws {
        let h = try IngressHarness()
        let worker = finishWhenEnqueued(h, key: "ok", result: #"{"charged": 3, "balance": 2}"#)
        let t0 = Date()
        let r = try await Self.usage(h, key: "ok", wait: 20)
        try await worker.value
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json?["state"], "completed")
        XCTAssertEqual(r.json?["result"], ["charged": 3, "balance": 2])
        XCTAssertEqual(r.json?["errors"], [])
        XCTAssertNotNil(r.json?["job_id"]?.int64)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 10, "woken by the notification, not by the deadline")
        // A replay of a finished job answers at once.
        let again = try await Self.usage(h, key: "ok", wait: 20)
        XCTAssertEqual(again.status, 200)
        XCTAssertEqual(again.json?["job_id"], r.json?["job_id"])
    }

    /// Pooled (`TALLY_DB_PREPARED=off`) with no `TALLY_LISTEN_DATABASE_URL`: no LISTEN at all,
    /// and a waiting request still answers the outcome, found by the 200 ms poll.
    func testWithoutListenWaitingRequestsPoll() async throws {
        let h = try IngressHarness(environment: ["TALLY_DB_PREPARED": "off"])
        let worker = finishWhenEnqueued(h, key: "polled", result: #"{"charged": 3, "balance": 2}"#)
        let t0 = Date()
        let r = try await Self.usage(h, key: "polled", wait: 20)
        try await worker.value
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json?["state"], "completed")
        XCTAssertLessThan(Date().timeIntervalSince(t0), 5, "found by the poll, not by the deadline")
        XCTAssertEqual(try h.db.int("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'tally-listener'", [h.db.name]), 0)
    }

    func testRefusalsAnswer402And404And400() async throws {
        let h = try IngressHarness()
        let w1 = finishWhenEnqueued(h, key: "poor", result: #"{"error": "insufficient_credits", "balance": 2, "required": 3}"#)
        let poor = try await Self.usage(h, key: "poor", wait: 20)
        try await w1.value
        XCTAssertEqual(poor.status, 402, poor.text)
        XCTAssertEqual(poor.errorCode, "insufficient_credits")
        XCTAssertEqual(poor.json?["balance"], 2)
        XCTAssertEqual(poor.json?["required"], 3)
        XCTAssertNotNil(poor.json?["job_id"]?.int64)
        XCTAssertNotNil(poor.json?["message"]?.string)

        for code in ["account_not_found", "unknown_agent"] {
            let w = finishWhenEnqueued(h, key: code, result: #"{"error": "\#(code)"}"#)
            let r = try await Self.usage(h, key: code, wait: 20)
            try await w.value
            XCTAssertEqual(r.status, 404, r.text)
            XCTAssertEqual(r.errorCode, code)
            XCTAssertNotNil(r.json?["job_id"]?.int64)
        }
        let w2 = finishWhenEnqueued(h, key: "huge", result: #"{"error": "invalid_units", "units": 9223372036854775807, "credits_per_unit": 2, "max_units": 4611686018427387903}"#)
        let huge = try await Self.usage(h, key: "huge", wait: 20)
        try await w2.value
        XCTAssertEqual(huge.status, 400, huge.text)
        XCTAssertEqual(huge.errorCode, "invalid_units")
        XCTAssertEqual(huge.json?["max_units"]?.int64, 4_611_686_018_427_387_903, "exact, not rounded through a Double")
    }

    func testTimeRunningOutAnswers202() async throws {
        let h = try IngressHarness()
        let t0 = Date()
        let r = try await Self.usage(h, key: "slow", wait: 1)
        XCTAssertEqual(r.status, 202)
        XCTAssertNotNil(r.json?["job_id"]?.int64)
        XCTAssertGreaterThan(Date().timeIntervalSince(t0), 0.9)
        XCTAssertEqual(h.ingress.context.waiters.count, 0, "the waiter is gone")
    }

    func testManyWaitersShareOneListenConnection() async throws {
        let h = try IngressHarness()
        let n = 30
        async let answers = Self.waitMany(h, n)
        try await waitUntil("every request is waiting") { h.ingress.context.waiters.count == n }
        let listeners = try h.db.int("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'tally-listener'", [h.db.name])
        XCTAssertEqual(listeners, 1)
        XCTAssertLessThanOrEqual(try h.db.int("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'tally-ingress'", [h.db.name]), 4)
        try h.db.connect().transaction { tx in
            for row in try tx.query("SELECT id FROM jobs") {
                let id = try row.int64("id")
                try tx.query("UPDATE jobs SET state = 'completed', result = '{}', finished_at = now() WHERE id = $1", [id])
                try tx.query("SELECT pg_notify('tally_job_finished', $1)", ["\(id):completed"])
            }
        }
        let statuses = try await answers
        XCTAssertEqual(statuses, Array(repeating: 200, count: n))
    }

    static func waitMany(_ h: IngressHarness, _ n: Int) async throws -> [Int] {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<n { group.addTask { try await Self.usage(h, key: "many-\(i)", wait: 25).status } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
    }

    /// The race of a job finishing between its commit and the waiter's registration: a
    /// notification that came first is not lost (unit level, no timing luck needed).
    func testNotificationBeforeWaitIsNotLost() async {
        let waiters = JobWaiters()
        let token = waiters.register(42)
        waiters.notified("42:completed")
        let t0 = Date()
        await waiters.wait(token, until: .now() + .seconds(10))
        XCTAssertLessThan(Date().timeIntervalSince(t0), 1)
        waiters.notified("7:completed")  // someone else's job: no effect
        let t1 = Date()
        await waiters.wait(token, until: .now() + .milliseconds(200))
        XCTAssertGreaterThan(Date().timeIntervalSince(t1), 0.15)
        waiters.cancel(token)
        XCTAssertEqual(waiters.count, 0)
    }
}
