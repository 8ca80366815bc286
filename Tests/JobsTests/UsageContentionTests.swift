import Foundation
import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// usage.record under contention, worked by real `tally worker` processes: balances end
/// exactly where the arithmetic says, never below zero, every refusal is a recorded result,
/// and `tally ledger verify` passes, including when a worker is killed with SIGKILL mid-run.
final class UsageContentionTests: XCTestCase {
    /// 1,000 jobs of 2 credits on one account holding 1,001: exactly 500 charged, 500 refused.
    func testOneHotAccountTwoWorkerProcesses() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try LedgerFixtures.account("hot", on: c, grants: [(.adjustment, 1001, nil)])
        let run = try ContentionRun(db: db, jobs: (0..<1000).map { ("hot", "k\($0)", 2) })
        try await run.work(workers: 2)

        XCTAssertEqual(try LedgerFixtures.balance("hot", on: c), 1, "1,001 − 500 × 2")
        XCTAssertEqual(try run.count("result ? 'charged'"), 500)
        XCTAssertEqual(try run.count("result = '{\"error\": \"insufficient_credits\", \"balance\": 1, \"required\": 2}'::jsonb"), 500,
                       "every refusal recorded, each seeing the 1 credit left")
        XCTAssertEqual(try run.count("state = 'completed'"), 1000, "refusals are completed jobs, never failures")
        // Each debit saw the one before it: the running balances are 999, 997, …, 1, each once.
        let after = try c.query("SELECT balance_after FROM ledger_entries WHERE kind = 'usage' ORDER BY id").map { try $0.int64("balance_after") }
        XCTAssertEqual(after, Array(stride(from: Int64(999), through: 1, by: -2)))
        try assertVerifyCommandPasses(db)
    }

    /// The same over 1,000 accounts: 5 credits each, three jobs of 2 each: two charged, one refused.
    func testOneThousandAccountsTwoWorkerProcesses() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let users = try Self.accounts(1000, credits: 5, on: c)
        let run = try ContentionRun(db: db, jobs: (0..<3).flatMap { k in users.map { ($0, "k\(k)", Int64(2)) } })
        try await run.work(workers: 2)
        try assertThreeJobsPerAccountFigures(db, users: users, run: run)
        try assertVerifyCommandPasses(db)
    }

    /// As above, with one worker killed (SIGKILL) once a third of the jobs are done: its claimed
    /// jobs are rescued when their leases lapse and the final figures are exactly the same.
    func testKillingAWorkerMidRunChangesNothingInTheFinalFigures() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let users = try Self.accounts(1000, credits: 5, on: c)
        let run = try ContentionRun(db: db, jobs: (0..<3).flatMap { k in users.map { ($0, "k\(k)", Int64(2)) } },
                                    claimBatch: 20, concurrency: 20)
        let workers = try await run.start(workers: 2)
        try await waitUntil("a third of the jobs are done and w1 holds some", timeout: 60) {
            try run.count("state = 'completed'") >= 1000 && run.count("state = 'running' AND locked_by LIKE 'w1/%'") > 0
        }
        workers[0].signal(SIGKILL)
        _ = try await workers[0].waitForExit()
        let doneAtKill = try run.count("state = 'completed'")
        XCTAssertLessThan(doneAtKill, 3000, "the kill landed mid-run")
        // Whatever it had not committed was rolled back with its sessions; the jobs it held
        // stay `running` until their leases lapse (2 s here), then run again elsewhere.
        try await run.finish(timeout: 120)
        try assertThreeJobsPerAccountFigures(db, users: users, run: run)
        let rescued = try run.count("errors::text LIKE '%lease expired: worker w1/%'")
        print("killed w1 with \(doneAtKill) of 3000 jobs done; \(rescued) of its jobs were rescued and ran again")
        XCTAssertGreaterThan(rescued, 0, "w1 held running jobs when it was killed: their leases lapsed and they were rescued")
        XCTAssertEqual(try run.count("errors::text LIKE '%lease expired: worker w1/%' AND state <> 'completed'"), 0,
                       "every rescued job then completed elsewhere")
        try assertVerifyCommandPasses(db)
        for w in workers where w.process.isRunning { w.signal(SIGTERM) }
        for w in workers { _ = try await w.waitForExit() }
    }

    // MARK: Helpers

    static func accounts(_ n: Int, credits: Int64, on c: Connection) throws -> [String] {
        let users = (0..<n).map { String(format: "user-%04d", $0) }
        try c.transaction { tx in
            for u in users { try Ledger.openAccount(u, openedBy: .operator, on: tx) }
            let book = LedgerBook(tx)
            try book.load(users)
            try book.reserveGrantIDs(n)
            for u in users { try book.grant(NewGrant(userID: u, source: .adjustment, amount: credits, reference: "setup:\(u)")) }
            try book.commit()
        }
        return users
    }

    func assertThreeJobsPerAccountFigures(_ db: TestDatabase, users: [String], run: ContentionRun,
                                          file: StaticString = #filePath, line: UInt = #line) throws {
        let c = try db.connect()
        XCTAssertEqual(try run.count("state = 'completed'"), 3000, file: file, line: line)
        XCTAssertEqual(try run.count("result ? 'charged'"), 2000, file: file, line: line)
        XCTAssertEqual(try run.count("result->>'error' = 'insufficient_credits' AND result->>'balance' = '1'"), 1000, file: file, line: line)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'usage'"), 2000, "each charge applied once", file: file, line: line)
        let wrong = try c.query("""
            SELECT a.user_id FROM accounts a
            WHERE (SELECT COALESCE(sum(remaining), 0) FROM grants g WHERE g.user_id = a.user_id) - a.debt <> 1
            """).count
        XCTAssertEqual(wrong, 0, "every one of the \(users.count) accounts ends at 5 − 2 × 2 = 1", file: file, line: line)
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE balance_after < 0"), 0, "never below zero", file: file, line: line)
    }

    func assertVerifyCommandPasses(_ db: TestDatabase, file: StaticString = #filePath, line: UInt = #line) throws {
        let verify = try TallyRun.run(["ledger", "verify", "--json"], environment: ["DATABASE_URL": db.url])
        XCTAssertEqual(verify.status, 0, verify.stderr + verify.stdout, file: file, line: line)
        XCTAssertEqual(try JSON.parse(verify.stdout)["ok"]?.bool, true, file: file, line: line)
    }
}

/// Usage jobs enqueued on a paused queue, then worked by `tally worker` processes.
struct ContentionRun {
    let db: TestDatabase
    let first: Int64
    let last: Int64
    let environment: [String: String]
    let concurrency: Int

    init(db: TestDatabase, jobs: [(user: String, key: String, units: Int64)], claimBatch: Int = 500, concurrency: Int = 1000) throws {
        self.db = db
        self.concurrency = concurrency
        environment = ["DATABASE_URL": db.url, "TALLY_LEASE": "2s", "TALLY_LEASE_RENEW": "0.5s", "TALLY_RESCUE_INTERVAL": "0.5s",
                       "TALLY_CLAIM_BATCH": String(claimBatch), "TALLY_BACKOFF_SCALE": "0.001", "TALLY_LOG_LEVEL": "warn",
                       "TALLY_SCHEDULER_INTERVAL": "0.2"]
        let c = try db.connect()
        try c.query("INSERT INTO queues (name, paused) VALUES ('default', true)")
        let enqueuer = Enqueuer()
        var ids: [Int64] = []
        for chunk in stride(from: 0, to: jobs.count, by: 1000) {
            let batch = jobs[chunk..<min(chunk + 1000, jobs.count)].map { j in
                NewJob(kind: UsageRecordJob.kind, args: ["user_id": .string(j.user), "agent": "default", "units": .int(j.units),
                                                        "idempotency_key": .string(j.key)],
                       queue: "default", uniqueKey: "usage:\(j.user):\(j.key)")
            }
            ids += try c.transaction { try enqueuer.enqueue(batch, on: $0).map(\.id) }
        }
        first = ids.min()!
        last = ids.max()!
    }

    func count(_ condition: String) throws -> Int64 {
        try db.int("SELECT count(*) FROM jobs WHERE id BETWEEN $1 AND $2 AND kind = 'usage.record' AND \(condition)", [first, last])
    }

    /// Starts the workers, resumes the queue once they are all registered.
    func start(workers n: Int) async throws -> [TallyProcess] {
        let workers = try (1...n).map { i in
            try TallyProcess(["worker", "--queues", "default=\(concurrency)", "--id", "w\(i)"], environment: environment)
        }
        try await waitUntil("\(n) workers registered", timeout: 60) { try db.int("SELECT count(*) FROM workers") >= Int64(n) }
        let c = try db.connect()
        try c.query("UPDATE queues SET paused = false WHERE name = 'default'")
        try JobStore.notify(channel: Channels.control, payload: "resume:default", on: c)
        return workers
    }

    func finish(timeout: TimeInterval = 120) async throws {
        try await waitUntil("every usage job finished", timeout: timeout) {
            try count("state NOT IN ('completed', 'discarded', 'cancelled')") == 0
        }
    }

    /// Starts `n` workers, waits for every job, stops them.
    func work(workers n: Int) async throws {
        let workers = try await start(workers: n)
        try await finish()
        for w in workers { w.signal(SIGTERM) }
        for w in workers {
            let status = try await w.waitForExit()
            XCTAssertEqual(status, 0, w.log)
        }
    }
}
