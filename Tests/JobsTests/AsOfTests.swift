import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// `as_of` is never later than the database's `now()` (DESIGN.md, "Limits everywhere"): a
/// credits.expire or credits.rollover run as of a future time would write off grants that have
/// not expired yet.
final class AsOfTests: XCTestCase {
    func testSettleTimeIsTheDatabasesNowOrAPastAsOfAndNeverTheFuture() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        XCTAssertEqual(DueGrantFanOut.settleTime(requested: nil, databaseNow: now), .at(now), "no as_of: the database's clock")
        let past = now.addingTimeInterval(-86400)
        XCTAssertEqual(DueGrantFanOut.settleTime(requested: past, databaseNow: now), .at(past))
        XCTAssertEqual(DueGrantFanOut.settleTime(requested: now, databaseNow: now), .at(now))
        XCTAssertEqual(DueGrantFanOut.settleTime(requested: now.addingTimeInterval(2), databaseNow: now), .wait(2),
                       "a cron stamp a little ahead (another clock) waits")
        guard case .refused(let reason) = DueGrantFanOut.settleTime(requested: now.addingTimeInterval(3600), databaseNow: now) else {
            return XCTFail("an hour ahead is refused")
        }
        XCTAssertTrue(reason.contains("later than the database's now()"), reason)
    }

    func testAFutureAsOfWritesOffNothing() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let grants = try LedgerFixtures.account("u1", on: c, grants: [(.reward, 10, LedgerFixtures.days(1)), (.topup, 5, nil)])
        for kind in [CreditsExpireJob.kind, CreditsRolloverJob.kind] {
            let run = try await RewardsFixtures.runJob(db, kind: kind, args: ["as_of": .string(Timestamp.iso8601(LedgerFixtures.days(2)))],
                                                       queue: "maintenance")
            XCTAssertEqual(run.state, "discarded", kind)
            let error = try XCTUnwrap(try db.scalar("SELECT errors->-1->>'message' FROM jobs WHERE kind = $1", [kind]))
            XCTAssertTrue(error.contains("later than the database's now()"), error)
        }
        XCTAssertEqual(try LedgerFixtures.remaining(grants[0], on: c), 10, "the reward expiring tomorrow is untouched")
        XCTAssertEqual(try db.int("SELECT count(*) FROM ledger_entries WHERE kind <> 'reward' AND kind <> 'topup'"), 0)
        // The same run as of now (no as_of) finds nothing due either; as of a past time, it settles.
        let now = try await RewardsFixtures.runJob(db, kind: CreditsExpireJob.kind, args: [:], queue: "maintenance")
        XCTAssertEqual(now.state, "completed")
        XCTAssertEqual(try LedgerFixtures.remaining(grants[0], on: c), 10)
        try LedgerFixtures.assertVerified(c)
    }
}
