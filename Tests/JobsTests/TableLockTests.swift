import Foundation
import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// An operator (or a migration) holds `LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE` in an open
/// transaction while usage arrives. Every usage transaction gives up after lock_timeout and
/// is snoozed (no attempt used) instead of holding a connection for the whole lock; so the
/// workers stay up, jobs of another queue keep completing during the lock, and once it is
/// released every usage job completes, each applied once, with exact balances.
final class TableLockTests: XCTestCase {
    /// How long the lock is held: the issue's 60 s (the whole test took 63 s on the 2-core
    /// machine, about 3 s more than the hold); `TALLY_TEST_LOCK_HOLD=12s` for a quicker run.
    /// Either way lock_timeout (1 s) is far shorter than the hold, so the timeout path runs
    /// dozens of times.
    static var hold: TimeInterval {
        ProcessInfo.processInfo.environment["TALLY_TEST_LOCK_HOLD"].flatMap { DurationText.parse($0) ?? Double($0) } ?? 60
    }

    func testAnAccessExclusiveLockOnAccountsHoldsUpNothingElseAndNoUsageIsLostOrDiscarded() async throws {
        try await runUnderTableLock(hold: Self.hold, lockTimeout: 1)
    }

    func runUnderTableLock(hold: TimeInterval, lockTimeout: TimeInterval, file: StaticString = #filePath, line: UInt = #line) async throws {
        XCTAssertLessThan(lockTimeout * 3, hold, "the lock must outlast several lock timeouts", file: file, line: line)
        let db = try TestDatabase.create()
        let c = try db.connect()
        let users = (0..<20).map { String(format: "lock-user-%02d", $0) }
        for u in users { try LedgerFixtures.account(u, on: c, grants: [(.adjustment, 10_000, nil)]) }
        let harness = try WorkerHarness(db, environment: ["TALLY_DB_LOCK_TIMEOUT": DurationText.format(lockTimeout),
                                                          "TALLY_LEASE_RENEW": "0.25s"], cron: false)
        var charges: [String: Int64] = [:]
        var usage: [Int64] = []
        var wave = 0
        func enqueueWave() throws {
            wave += 1
            for (i, u) in users.enumerated() {
                let units = Int64(1 + (wave + i) % 3)
                usage.append(try harness.enqueue(UsageRecordJob.kind, ["user_id": .string(u), "agent": "default", "units": .int(units),
                                                                      "idempotency_key": .string("w\(wave)")],
                                                 key: "usage:\(u):w\(wave)"))
                charges[u, default: 0] += units
            }
        }
        func lockTimeouts() throws -> Int64 {
            try db.int("SELECT COALESCE(sum(value), 0) FROM worker_counters WHERE name = 'transaction_retries' AND label = 'lock_timeout'")
        }

        // Before the lock: usage flows.
        try enqueueWave()
        try await waitUntil("the first wave completes") {
            try db.int("SELECT count(*) FROM jobs WHERE id = ANY($1) AND state = 'completed'", [usage]) == Int64(usage.count)
        }
        let beforeLock = usage

        // The lock, from a session of its own that sits idle in its transaction on purpose: its
        // URL turns the idle-in-transaction limit off (a value in the URL wins over Tally's).
        let locker = try Connection.connect(db.url + "?options=-c%20idle_in_transaction_session_timeout%3D0")
        try locker.execute("BEGIN")
        try locker.execute("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
        let lockedAt = Date()
        var noops: [Int64] = []
        let timeoutsAtLock = try lockTimeouts()
        // Usage keeps arriving; each round, a job of another queue must complete and usage
        // transactions must keep timing out on the lock (counted in worker_counters).
        while Date().timeIntervalSince(lockedAt) < hold {
            try enqueueWave()
            let noop = try harness.enqueue("bench.noop", [:], queue: "payments")
            noops.append(noop)
            try await waitUntil("a payments job completes while accounts is locked", timeout: 15, file: file, line: line) {
                try harness.state(noop) == "completed"
            }
            let target = timeoutsAtLock + Int64(wave - 1)
            try await waitUntil("usage transactions time out on the lock (\(target) so far)", timeout: 15, file: file, line: line) {
                try lockTimeouts() >= target
            }
        }
        let during = usage.filter { !beforeLock.contains($0) }
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE id = ANY($1) AND state = 'completed'", [during]), 0,
                       "no usage could be applied while the table was locked", file: file, line: line)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE id = ANY($1) AND state IN ('discarded', 'cancelled')", [during]), 0,
                       file: file, line: line)
        let held = Date().timeIntervalSince(lockedAt)
        try locker.execute("COMMIT")
        let timedOut = try lockTimeouts() - timeoutsAtLock
        print("held the lock \(String(format: "%.1f", held)) s: \(during.count) usage jobs arrived, \(noops.count) payments jobs completed meanwhile, \(timedOut) lock timeouts")
        XCTAssertGreaterThan(timedOut, Int64(hold / lockTimeout / 2), "lock_timeout ended the waits again and again", file: file, line: line)

        try await waitUntil("every usage job completes after the lock", timeout: 60, file: file, line: line) {
            try db.int("SELECT count(*) FROM jobs WHERE id = ANY($1) AND state = 'completed'", [usage]) == Int64(usage.count)
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE id = ANY($1) AND result ? 'charged'", [usage]), Int64(usage.count),
                       "every one charged", file: file, line: line)
        // A lock timeout is snoozed, never a failed attempt: no job's errors record one. (A run
        // can still be cut and retried for another reason under load, e.g. a lease renewal that
        // took longer than its limit; that is the lease's business, not the lock's.)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE id = ANY($1) AND errors::text LIKE '%lock timeout%'", [usage]), 0,
                       "the lock timeouts used no attempt", file: file, line: line)
        for u in users {
            XCTAssertEqual(try LedgerFixtures.balance(u, on: c), 10_000 - charges[u]!, "\(u): every charge applied once", file: file, line: line)
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind = 'usage'"), Int64(usage.count), file: file, line: line)
        try LedgerFixtures.assertVerified(c, file: file, line: line)
        // Still up: the harness's pool has not stopped, and a last job runs.
        let last = try harness.enqueue("bench.noop", [:], queue: "payments")
        _ = try await harness.finished(last)
        await harness.stop()
    }
}
