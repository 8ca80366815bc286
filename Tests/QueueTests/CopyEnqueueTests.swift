import Foundation
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// Batches of more than `Enqueuer.copyThreshold` jobs without keys go in by COPY.
final class CopyEnqueueTests: XCTestCase {
    /// JSON text with what must stay exact: a number no double holds, unicode, escapes.
    static func args(_ i: Int) -> String {
        #"{"i": \#(i), "big": 123456789012345678901234567890.000000000000000001, "s": "ünï ✓ \u00e9 \ud83d\ude00 \"q\" \\ \n\t", "l": [1, 2.50, -3]}"#
    }

    static func job(_ i: Int, now: Date) -> NewJob {
        let runAt: Date? = switch i % 7 {
        case 1: now.addingTimeInterval(-3600)      // past: available
        case 2: now.addingTimeInterval(3600 + Double(i))  // future: scheduled
        default: nil                               // now: available
        }
        return NewJob(kind: "bench.noop.\(i % 4)", argsJSON: args(i), queue: ["q0", "q1", "q2"][i % 3], priority: i % 10,
                      maxAttempts: 1 + i % 5, runAt: runAt, notifyOnFinish: i % 11 == 0)
    }

    func testCopyOf25000JobsLandsWithEveryColumnAndIdsInInputOrder() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let now = Date()
        let jobs = (0..<25_000).map { CopyEnqueueTests.job($0, now: now) }
        XCTAssertGreaterThan(jobs.count, Enqueuer.copyThreshold)
        let results = try Enqueuer().enqueue(jobs, on: c)
        XCTAssertFalse(c.isInTransaction, "its own transaction, committed")
        XCTAssertEqual(results.count, jobs.count)
        XCTAssertTrue(results.allSatisfy(\.inserted))
        let ids = results.map(\.id)
        XCTAssertTrue(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 }, "ids increase with input order")
        // Nobody else takes ids here, so they are contiguous too (documented: not promised).
        XCTAssertEqual(ids.last.map { $0 - ids[0] }, Int64(jobs.count - 1))
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs"), 25_000)
        let rows = try c.query("""
            SELECT id, queue, kind, state::text AS state, priority, max_attempts, notify_finish, attempt,
                   unique_key, unique_while_active, errors::text AS errors, result IS NULL AS no_result,
                   locked_by IS NULL AS unlocked,
                   ((EXTRACT(EPOCH FROM run_at) - 946684800) * 1000000)::bigint AS run_us,
                   run_at = created_at AS run_at_is_now,
                   (args->'i')::text AS i, (args->'big')::text AS big, args->>'s' AS s, (args->'l')::text AS l
            FROM jobs ORDER BY id
            """)
        XCTAssertEqual(rows.count, jobs.count)
        for (index, row) in rows.enumerated() {
            let job = jobs[index]
            XCTAssertEqual(try row.int64("id"), ids[index], "row \(index)")
            XCTAssertEqual(try row.string("queue"), job.queue)
            XCTAssertEqual(try row.string("kind"), job.kind)
            XCTAssertEqual(try row.int("priority"), job.priority)
            XCTAssertEqual(try row.int("max_attempts"), job.maxAttempts)
            XCTAssertEqual(try row.bool("notify_finish"), job.notifyOnFinish)
            XCTAssertEqual(try row.int("attempt"), 0)
            XCTAssertNil(try row.optString("unique_key"))
            XCTAssertEqual(try row.bool("unique_while_active"), false)
            XCTAssertEqual(try row.string("errors"), "[]")
            XCTAssertTrue(try row.bool("no_result") && row.bool("unlocked"))
            XCTAssertEqual(try row.string("i"), String(index))
            XCTAssertEqual(try row.string("big"), "123456789012345678901234567890.000000000000000001", "numbers stay exact")
            XCTAssertEqual(try row.string("s"), "ünï ✓ é \u{1F600} \"q\" \\ \n\t")
            XCTAssertEqual(try row.string("l"), "[1, 2.50, -3]")
            if let runAt = job.runAt {
                XCTAssertEqual(try row.int64("run_us"), try CopyBinaryWriter.postgresMicros(runAt))
                XCTAssertEqual(try row.string("state"), runAt > now ? "scheduled" : "available", "row \(index)")
            } else {
                XCTAssertTrue(try row.bool("run_at_is_now"), "no run_at: the transaction's now(), as created_at")
                XCTAssertEqual(try row.string("state"), "available")
            }
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE state = 'scheduled'"), Int64(jobs.filter { $0.runAt.map { $0 > now } ?? false }.count))
    }

    /// The same batch by COPY and by the INSERT gives the same rows (up to ids and the
    /// transaction's time), including what a job without run_at gets.
    func testCopyAndInsertWriteTheSameRows() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let now = Date()
        let jobs = (0..<(Enqueuer.copyThreshold + 50)).map { CopyEnqueueTests.job($0, now: now) }
        let copied = try Enqueuer().enqueue(jobs, on: c)
        let inserted = try Enqueuer(copyThreshold: .max).enqueue(jobs, on: c)
        XCTAssertEqual(copied.count, inserted.count)
        XCTAssertLessThan(copied.last?.id ?? .max, inserted.first?.id ?? 0)
        let differences = try db.int("""
            WITH a AS (SELECT row_number() OVER (ORDER BY id) AS n, * FROM jobs WHERE id = ANY($1::bigint[])),
                 b AS (SELECT row_number() OVER (ORDER BY id) AS n, * FROM jobs WHERE id = ANY($2::bigint[]))
            SELECT count(*) FROM a JOIN b USING (n)
            WHERE (a.queue, a.kind, a.args, a.state, a.priority, a.max_attempts, a.notify_finish, a.attempt, a.errors,
                   a.unique_while_active, a.run_at - a.created_at > interval '1 minute', a.run_at = a.created_at)
               IS DISTINCT FROM
                  (b.queue, b.kind, b.args, b.state, b.priority, b.max_attempts, b.notify_finish, b.attempt, b.errors,
                   b.unique_while_active, b.run_at - b.created_at > interval '1 minute', b.run_at = b.created_at)
               OR (a.run_at <> b.run_at AND a.run_at <> a.created_at)
            """, [copied.map(\.id), inserted.map(\.id)])
        XCTAssertEqual(differences, 0)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs"), Int64(2 * jobs.count))
    }

    /// One job whose args jsonb cannot hold (`\u0000`) fails the whole batch with the server's
    /// error; nothing is inserted, and the connection is left outside any transaction.
    func testCopyBatchWithInvalidArgsFailsAsAWholeAndInsertsNothing() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let now = Date()
        for (bad, state) in [(#"{"s": "a\u0000b"}"#, "22P05"), (#"{"s": }"#, "22P02")] {
            var jobs = (0..<2000).map { CopyEnqueueTests.job($0, now: now) }
            jobs[1234].argsJSON = bad
            XCTAssertThrowsError(try Enqueuer().enqueue(jobs, on: c)) { error in
                let e = error as? PostgresError
                XCTAssertEqual(e?.kind, .server, "\(error)")
                XCTAssertEqual(e?.sqlState, state, "\(error)")
                XCTAssertEqual(e?.isRefusedData, true)
                XCTAssertTrue(e?.message.contains("COPY jobs") ?? false, "the error names the statement: \(error)")
            }
            XCTAssertFalse(c.isInTransaction)
            XCTAssertTrue(c.isUsable)
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs"), 0)
        // A bad row inside the caller's transaction aborts that transaction, as a failed INSERT would.
        var jobs = (0..<500).map { CopyEnqueueTests.job($0, now: now) }
        jobs[499].argsJSON = #"{"s": "\u0000"}"#
        XCTAssertThrowsError(try c.transaction { tx in
            try Enqueuer().enqueue(NewJob(kind: "bench.noop", queue: "default"), on: tx)
            try Enqueuer().enqueue(jobs, on: tx)
        })
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs"), 0)
        // And the connection goes on: the same batch with the row fixed goes in.
        jobs[499].argsJSON = "{}"
        XCTAssertEqual(try Enqueuer().enqueue(jobs, on: c).count, 500)
    }

    func testCopyBatchInTheCallersTransactionIsRolledBackWithIt() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let now = Date()
        let jobs = (0..<3000).map { CopyEnqueueTests.job($0, now: now) }
        struct Abort: Error {}
        XCTAssertThrowsError(try c.transaction { tx in
            let r = try Enqueuer().enqueue(jobs, on: tx)
            XCTAssertEqual(r.count, 3000)
            XCTAssertTrue(tx.isInTransaction, "the caller's transaction, still open")
            XCTAssertEqual(try tx.query("SELECT count(*) AS n FROM jobs").first?.int("n"), 3000, "visible inside it")
            throw Abort()
        }) { XCTAssertTrue($0 is Abort) }
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs"), 0, "rolled back with the caller's transaction")
        let kept = try c.transaction { tx in
            try Enqueuer().enqueue(NewJob(kind: "bench.noop", queue: "default"), on: tx).id
        }
        let committed = try c.transaction { tx in try Enqueuer().enqueue(jobs, on: tx) }
        XCTAssertGreaterThan(committed[0].id, kept)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs"), 3001)
    }

    /// COPY batches notify like the INSERT: once per queue that got an available job, at commit;
    /// a queue with only scheduled jobs is not woken.
    func testCopyBatchNotifiesEachQueueWithAvailableJobsOnce() async throws {
        let db = try TestDatabase.create()
        let heard = LockedBox<[String]>([])
        let listener = Listener(url: db.url, channels: [Channels.jobs]) { n in heard.mutate { $0.append(n.payload) } }
        listener.start()
        defer { listener.stop() }
        try await waitUntil("listening") { listener.isConnected }
        let c = try db.connect()
        let later = Date().addingTimeInterval(3600)
        for copyThreshold in [Enqueuer.copyThreshold, Int.max] {
            heard.mutate { $0 = [] }
            let jobs = (0..<600).map { i in
                NewJob(kind: "bench.noop", queue: ["a", "b", "c"][i % 3], runAt: i % 3 == 1 ? later : nil)
            }
            try c.transaction { tx in
                try Enqueuer(copyThreshold: copyThreshold).enqueue(jobs, on: tx)
                try tx.query("SELECT pg_notify($1, 'marker')", [Channels.jobs])
            }
            // Notifications of one transaction arrive together, in order: the marker comes last.
            try await waitUntil("the marker arrived") { heard.value.contains("marker") }
            XCTAssertEqual(heard.value.sorted(), ["a", "c", "marker"], "threshold \(copyThreshold)")
        }
    }
}
