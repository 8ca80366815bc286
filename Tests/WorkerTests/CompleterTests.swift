import Foundation
import Postgres
import Queue
import Support
import TestSupport
@testable import Worker
import XCTest

/// The completer against a real database: what it does when the server refuses a batch.
final class CompleterTests: XCTestCase {
    func testARefusedOutcomeDoesNotHoldBackTheOthersAndIsRecordedWithoutItsDetails() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let ids = try Enqueuer().enqueue((0..<4).map { _ in NewJob(kind: "bench.noop", queue: "default") }, on: c).map(\.id)
        XCTAssertEqual(try JobStore.claim(queue: "default", limit: 4, workerID: "w/1", lease: .milliseconds(30_000), on: c).count, 4)
        let pool = ConnectionPool(url: db.url, maxConnections: 1)
        defer { pool.close() }
        let held = HeldJobs()
        let completer = Completer(pool: pool, workerID: "w/1", held: held, maxBatch: 10, dueSoon: { _ in })
        // jsonb cannot hold \u0000: the server refuses the whole statement (SQLSTATE 22P05).
        let poisoned = JSON.object(["text": .string("a\u{0000}b")])
        for (n, id) in ids.enumerated() {
            let hold = held.hold(id, attempt: 1, timeout: 30, now: 0)
            held.runEnded(hold)
            completer.submit(Completion(finish: Finish(jobID: id, attempt: 1, state: .completed, result: n == 1 ? poisoned : ["n": .int(n)]),
                                        hold: hold))
        }
        let run = Task { await completer.run() }
        _ = await completer.finish(by: .after(10))
        await run.value
        let rows = try c.query("SELECT id, state::text AS state, result FROM jobs ORDER BY id")
        XCTAssertEqual(try rows.map { try $0.string("state") }, ["completed", "completed", "completed", "completed"])
        XCTAssertEqual(try rows[0].json("result")["n"]?.int, 0, "the good outcomes are written as they were")
        XCTAssertEqual(try rows[3].json("result")["n"]?.int, 3)
        let note = try XCTUnwrap(try rows[1].json("result")["refused"]?.string)
        XCTAssertTrue(note.contains("22P05"), note)
        XCTAssertTrue(held.isEmpty, "every claim released, the refused one too")
    }
}
