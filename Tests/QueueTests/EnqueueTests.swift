import Foundation
import Postgres
import Queue
import Support
import TestSupport
import XCTest

final class EnqueueTests: XCTestCase {
    func testSameKeyFromEightTasksAtOnceMakesOneJob() async throws {
        let db = try TestDatabase.create()
        let pool = db.pool(8)
        let enqueuer = Enqueuer()
        // Eight connections insert the same key at once; ON CONFLICT with the partial unique
        // index makes every loser wait for the winner and then find its job.
        let results = try await withThrowingTaskGroup(of: EnqueueResult.self) { group in
            for i in 0..<8 {
                group.addTask {
                    try await pool.withConnection { c in
                        try enqueuer.enqueue(NewJob(kind: "bench.noop", args: ["n": .int(i)], queue: "default", uniqueKey: "same-key"), on: c)
                    }
                }
            }
            var all: [EnqueueResult] = []
            for try await r in group { all.append(r) }
            return all
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE unique_key = 'same-key'"), 1)
        XCTAssertEqual(Set(results.map(\.id)).count, 1, "every caller got the one job's id")
        XCTAssertEqual(results.filter(\.inserted).count, 1)
        XCTAssertEqual(results.filter { !$0.inserted }.allSatisfy { $0.existingKind == "bench.noop" && $0.existingArgs != nil }, true)
    }

    func testBatchAnswersInInputOrderWithKeysResolved() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let enqueuer = Enqueuer()
        let existing = try enqueuer.enqueue(NewJob(kind: "bench.noop", args: ["v": 0], queue: "default", uniqueKey: "k0"), on: c)
        let batch = [
            NewJob(kind: "bench.noop", args: ["v": 1], queue: "default"),
            NewJob(kind: "bench.noop", args: ["v": 2], queue: "default", uniqueKey: "k0"),
            NewJob(kind: "bench.noop", args: ["v": 3], queue: "other", uniqueKey: "k3"),
            NewJob(kind: "bench.noop", args: ["v": 4], queue: "default", uniqueKey: "k3"),
            NewJob(kind: "bench.noop", args: ["v": 5], queue: "default", priority: 0),
        ]
        let r = try enqueuer.enqueue(batch, on: c)
        XCTAssertEqual(r.map(\.inserted), [true, false, true, false, true])
        XCTAssertEqual(r[1].id, existing.id)
        XCTAssertEqual(r[1].existingArgs?["v"]?.int64, 0)
        XCTAssertEqual(r[3].id, r[2].id, "the first of duplicate keys in a batch wins")
        for (i, v) in [(0, 1), (2, 3), (4, 5)] {
            XCTAssertEqual(try db.int("SELECT (args->>'v')::int FROM jobs WHERE id = $1", [r[i].id]), Int64(v), "answer \(i) is its own job")
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs"), 4)
    }

    func testEnqueueJoinsTheCallersTransaction() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        struct Abort: Error {}
        XCTAssertThrowsError(try c.transaction { tx in
            try Enqueuer().enqueue(NewJob(kind: "bench.noop", queue: "default"), on: tx)
            throw Abort()
        })
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs"), 0, "rolled back with the caller's transaction")
        _ = try c.transaction { tx in try Enqueuer().enqueue(NewJob(kind: "bench.noop", queue: "default"), on: tx) }
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs"), 1)
    }

    func testFutureJobsAreScheduledAndBadInputChangesNothing() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let r = try Enqueuer().enqueue(NewJob(kind: "bench.noop", queue: "default", runAt: Date().addingTimeInterval(3600)), on: c)
        XCTAssertEqual(try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [r.id]), "scheduled")
        for bad in [
            NewJob(kind: "", queue: "default"), NewJob(kind: "x", queue: ""), NewJob(kind: "x", queue: "q", priority: 10),
            NewJob(kind: "x", queue: "q", maxAttempts: 0), NewJob(kind: "x", queue: "q", uniqueKey: ""),
        ] {
            XCTAssertThrowsError(try Enqueuer().enqueue([NewJob(kind: "bench.noop", queue: "default"), bad], on: c))
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs"), 1, "a batch with one bad job inserts nothing")
    }

    func testKeyUniqueWhileActiveAllowsANewJobOnceTheOldOneFinished() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let job = NewJob(kind: "bench.noop", queue: "default", uniqueKey: "check:1", uniqueWhileActive: true)
        let first = try Enqueuer().enqueue(job, on: c)
        XCTAssertFalse(try Enqueuer().enqueue(job, on: c).inserted, "blocked while the first is unfinished")
        try c.query("UPDATE jobs SET state = 'completed', finished_at = now() WHERE id = $1", [first.id])
        let second = try Enqueuer().enqueue(job, on: c)
        XCTAssertTrue(second.inserted)
        XCTAssertNotEqual(second.id, first.id)
        // A permanent key stays taken after its job finished.
        let permanent = NewJob(kind: "bench.noop", queue: "default", uniqueKey: "forever")
        let p = try Enqueuer().enqueue(permanent, on: c)
        try c.query("UPDATE jobs SET state = 'completed', finished_at = now() WHERE id = $1", [p.id])
        XCTAssertEqual(try Enqueuer().enqueue(permanent, on: c), EnqueueResult(id: p.id, inserted: false, existingKind: "bench.noop", existingArgs: [:]))
    }

    func testTrailingNotifyIsSentOnlyAfterTheCallersCommit() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let sent = LockedBox<[String]>([])
        // A window long enough that the second insert cannot notify inline even on a slow
        // machine; the trailing NOTIFY is then due two windows after the first insert.
        let enqueuer = Enqueuer(debounceWindowNanos: 1_000_000_000, trailingSender: { queue in sent.mutate { $0.append(queue) } })
        try c.transaction { tx in
            try enqueuer.enqueue(NewJob(kind: "bench.noop", queue: "q"), on: tx)
            try enqueuer.enqueue(NewJob(kind: "bench.noop", queue: "q"), on: tx)
            XCTAssertEqual(sent.value, [], "not armed before COMMIT")
        }
        try await waitUntil("the trailing NOTIFY went out after the commit") { sent.value == ["q"] }
        // Keyed batch outside a transaction: all or nothing, and a replay finds the same jobs.
        let keyed = [NewJob(kind: "bench.noop", queue: "q", uniqueKey: "a"), NewJob(kind: "bench.noop", queue: "q", uniqueKey: "b")]
        let first = try Enqueuer().enqueue(keyed, on: c)
        let again = try Enqueuer().enqueue(keyed + [NewJob(kind: "bench.noop", queue: "q", uniqueKey: "c")], on: c)
        XCTAssertEqual(again.prefix(2).map(\.id), first.map(\.id))
        XCTAssertEqual(again.map(\.inserted), [false, false, true])
        XCTAssertFalse(c.isInTransaction)
    }

    func testDebouncerKeepsTheTrailingNotifyForACommitLaterThanTheInlineOne() {
        var d = NotifyDebouncer(windowNanos: 1_000_000)
        XCTAssertTrue(d.decide(queue: "q", nowNanos: 0))
        XCTAssertFalse(d.decide(queue: "q", nowNanos: 200_000), "A")
        XCTAssertEqual(d.committed(queue: "q", nowNanos: 300_000), 2_000_000)
        XCTAssertFalse(d.decide(queue: "q", nowNanos: 500_000), "B, whose commit is slow")
        XCTAssertTrue(d.decide(queue: "q", nowNanos: 1_100_000), "C notifies inline and commits before B")
        XCTAssertNil(d.committed(queue: "q", nowNanos: 1_500_000), "B commits: the armed NOTIFY must cover it")
        XCTAssertEqual(d.trailingDue(queue: "q", nowNanos: 2_000_000), .rearm(atNanos: 3_100_000),
                       "C's NOTIFY may have come before B was visible; the stream may go on: look again")
        XCTAssertEqual(d.trailingDue(queue: "q", nowNanos: 3_100_000), .send, "nothing since: send")
        XCTAssertFalse(d.decide(queue: "q", nowNanos: 3_500_000), "inside the window of the trailing one")
        XCTAssertEqual(d.committed(queue: "q", nowNanos: 3_600_000), 5_100_000)
        XCTAssertTrue(d.decide(queue: "q", nowNanos: 4_200_000))
        XCTAssertEqual(d.trailingDue(queue: "q", nowNanos: 5_100_000), .skip, "decided after the last commit that skipped: covered")
    }

    func testDebouncerSendsOnePerWindowAndArmsATrailingOneAtCommit() {
        var d = NotifyDebouncer(windowNanos: 1_000_000)
        XCTAssertTrue(d.decide(queue: "q", nowNanos: 10_000_000))
        XCTAssertFalse(d.decide(queue: "q", nowNanos: 10_200_000), "inside the window: no inline NOTIFY")
        XCTAssertFalse(d.decide(queue: "q", nowNanos: 10_300_000))
        XCTAssertTrue(d.decide(queue: "other", nowNanos: 10_300_000), "queues are independent")
        XCTAssertEqual(d.committed(queue: "q", nowNanos: 10_400_000), 12_000_000,
                       "armed at commit, due one window after the window: time for the stream to notify inline")
        XCTAssertNil(d.committed(queue: "q", nowNanos: 10_500_000), "the armed one goes out after this commit: it covers it")
        XCTAssertEqual(d.trailingDue(queue: "q", nowNanos: 12_000_000), .send, "nothing notified since it was armed: send it")
        // A commit slower than that arms a NOTIFY for right after it, never before.
        XCTAssertFalse(d.decide(queue: "q", nowNanos: 12_500_000))
        XCTAssertEqual(d.committed(queue: "q", nowNanos: 15_000_000), 15_000_000)
        XCTAssertEqual(d.trailingDue(queue: "q", nowNanos: 15_000_000), .send)
        // An inline NOTIFY decided after the trailing one was armed makes it redundant.
        XCTAssertFalse(d.decide(queue: "q", nowNanos: 15_500_000))
        XCTAssertEqual(d.committed(queue: "q", nowNanos: 15_600_000), 17_000_000)
        XCTAssertTrue(d.decide(queue: "q", nowNanos: 16_100_000), "after the window, inline again")
        XCTAssertEqual(d.trailingDue(queue: "q", nowNanos: 17_000_000), .skip, "the inline NOTIFY at 16.1 ms covers the commit of 15.6 ms")
        XCTAssertFalse(d.decide(queue: "q", nowNanos: 17_050_000))
        XCTAssertEqual(d.committed(queue: "q", nowNanos: 17_100_000), 18_100_000, "a new burst arms its own")
    }
}
