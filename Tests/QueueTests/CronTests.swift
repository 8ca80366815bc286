import Foundation
import Postgres
import Queue
import Support
import TestSupport
import XCTest

final class CronTests: XCTestCase {
    func date(_ s: String) -> Date { Timestamp.parse(s)! }
    func iso(_ d: Date) -> String { Timestamp.iso8601(d) }

    func testFieldsStepsListsAndNames() throws {
        let e = try CronExpression("*/15 9-17 * * mon-fri")
        XCTAssertEqual(iso(e.next(after: date("2026-11-20T17:50:00Z"))), "2026-11-23T09:00:00.000Z", "Friday evening → Monday 09:00")
        XCTAssertEqual(iso(e.next(after: date("2026-11-23T09:00:00Z"))), "2026-11-23T09:15:00.000Z")
        XCTAssertEqual(iso(e.previous(atOrBefore: date("2026-11-22T12:00:00Z"))), "2026-11-20T17:45:00.000Z", "Sunday → Friday 17:45")
        XCTAssertEqual(iso(e.previous(atOrBefore: date("2026-11-23T09:15:00Z"))), "2026-11-23T09:15:00.000Z", "at or before includes now")
    }

    func testMonthlyAndLeapDays() throws {
        let monthly = try CronExpression("@monthly")
        XCTAssertEqual(iso(monthly.next(after: date("2026-12-15T00:00:00Z"))), "2027-01-01T00:00:00.000Z")
        XCTAssertEqual(iso(monthly.previous(atOrBefore: date("2026-03-01T00:00:00Z"))), "2026-03-01T00:00:00.000Z")
        let leap = try CronExpression("0 12 29 2 *")
        XCTAssertEqual(iso(leap.next(after: date("2026-03-01T00:00:00Z"))), "2028-02-29T12:00:00.000Z")
    }

    func testDayOfMonthOrDayOfWeekWhenBothRestricted() throws {
        // Vixie cron: the 1st of the month or any Monday.
        let e = try CronExpression("0 0 1 * 1")
        XCTAssertEqual(iso(e.next(after: date("2026-11-25T00:00:00Z"))), "2026-11-30T00:00:00.000Z", "a Monday")
        XCTAssertEqual(iso(e.next(after: date("2026-11-30T00:00:00Z"))), "2026-12-01T00:00:00.000Z", "the 1st")
        XCTAssertEqual(iso(try CronExpression("0 0 * * 7").next(after: date("2026-11-21T00:00:00Z"))), "2026-11-22T00:00:00.000Z", "7 is Sunday")
    }

    func testEveryIsAlignedToTheEpoch() throws {
        let e = try CronExpression("@every 90s")
        XCTAssertEqual(e.next(after: Date(timeIntervalSince1970: 100)).timeIntervalSince1970, 180)
        XCTAssertEqual(e.previous(atOrBefore: Date(timeIntervalSince1970: 100)).timeIntervalSince1970, 90)
    }

    func testRejectsBadExpressions() {
        for bad in ["* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "5-1 * * * *", "*/0 * * * *",
                    "@every 0s", "@every 1.5s", "@sometimes", "a * * * *", "1,,2 * * * *"] {
            XCTAssertThrowsError(try CronExpression(bad), bad)
        }
    }

    func testEachOccurrenceIsEnqueuedOnceHoweverManyWorkersTry() async throws {
        let db = try TestDatabase.create()
        let pool = db.pool(6)
        let schedule = CronSchedule(name: "tick", expression: try CronExpression("@every 1m"), kind: "bench.noop", queue: "default")
        let enqueuer = Enqueuer()
        let due = date("2026-11-21T10:00:00Z")
        let winners = try await withThrowingTaskGroup(of: Int64?.self) { group in
            for _ in 0..<6 {
                group.addTask { try await pool.withConnection { try schedule.enqueueOccurrence(due: due, on: $0, enqueuer: enqueuer) } }
            }
            var ids: [Int64] = []
            for try await id in group { if let id { ids.append(id) } }
            return ids
        }
        XCTAssertEqual(winners.count, 1)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = 'bench.noop'"), 1)
        XCTAssertEqual(try db.scalar("SELECT args->>'as_of' FROM jobs"), "2026-11-21T10:00:00.000Z")
        let c = try db.connect()
        XCTAssertNil(try schedule.enqueueOccurrence(due: due.addingTimeInterval(-60), on: c, enqueuer: enqueuer), "an older occurrence never runs after a newer one")
        XCTAssertNotNil(try schedule.enqueueOccurrence(due: due.addingTimeInterval(60), on: c, enqueuer: enqueuer))
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs"), 2)
    }
}
