import Foundation
import Postgres
import Support
import TestSupport
import XCTest

/// `tally rewards`, `tally referrals`, `tally endpoints`: output, JSON, exit codes.
final class RewardsCommandTests: CommandTestCase {
    func testRewardsListAndSet() throws {
        let seeded = try json("rewards", "list")["rewards"]?.array ?? []
        let byAction = Dictionary(uniqueKeysWithValues: seeded.map { ($0["action"]?.string ?? "", $0) })
        XCTAssertEqual(byAction["daily_login"]?["credits"]?.int64, 1)
        XCTAssertEqual(byAction["daily_login"]?["daily_cap"]?.int64, 1)
        XCTAssertEqual(byAction["post_like"]?["daily_cap"]?.int64, 5)
        XCTAssertEqual(byAction["watch_milestone"]?["credits"]?.int64, 2)
        XCTAssertEqual(byAction["watch_milestone"]?["daily_cap"]?.int64, 10)
        XCTAssertEqual(byAction["ad_view"]?["daily_cap"]?.int64, 5)
        XCTAssertTrue(seeded.allSatisfy { $0["enabled"]?.bool == true })

        let set = try json("rewards", "set", "share", "3", "--daily-cap", "9")
        XCTAssertEqual(set["credits"]?.int64, 3)
        XCTAssertEqual(set["enabled"]?.bool, true)
        let off = try json("rewards", "set", "share", "4", "--off")
        XCTAssertEqual(off["daily_cap"]?.int64, 9, "an existing rule keeps its cap")
        XCTAssertEqual(off["enabled"]?.bool, false)
        let table = try tally("rewards", "list")
        XCTAssertTrue(table.stdout.contains("share") && table.stdout.contains("off"), table.stdout)

        try tally("rewards", "set", "brand_new", "1", expect: 2)           // a new rule needs --daily-cap
        try tally("rewards", "set", "Bad Name", "1", "--daily-cap", "1", expect: 2)
        try tally("rewards", "set", "share", "-1", "--daily-cap", "1", expect: 2)
        try tally("rewards", "set", "share", "1", "--daily-cap", "x", expect: 2)
        try tally("rewards", "set", "share", "1", "--cap", "1", expect: 2)  // unknown option
    }

    func testReferralsCreate() throws {
        try tally("referrals", "create", "nobody", expect: 1)
        let c = try db.connect()
        try c.query("INSERT INTO accounts (user_id, opened_by) VALUES ('alice', 'operator')")
        let text = try tally("referrals", "create", "alice")
        let code = try XCTUnwrap(text.stdout.split(separator: "\n").last.map(String.init))
        XCTAssertEqual(code.count, 8, "the code alone on its own line: \(text.stdout)")
        let chosen = try json("referrals", "create", "alice", "--code", "alice-friends", "--max-uses", "3")
        XCTAssertEqual(chosen["code"]?.string, "ALICE-FRIENDS")
        XCTAssertEqual(chosen["max_uses"]?.int64, 3)
        XCTAssertEqual(try json("referrals", "create", "alice")["max_uses"]?.int64, 100, "the default limit")
        try tally("referrals", "create", "alice", "--code", "alice-friends", expect: 1)   // taken
        try tally("referrals", "create", "alice", "--code", "no", expect: 2)
        try tally("referrals", "create", expect: 2)
    }

    func testEndpointsAddListEnableDisableRemove() throws {
        let added = try tally("endpoints", "add", "https://app.example/hooks/tally")
        let lines = added.stdout.split(separator: "\n").map(String.init)
        let secret = try XCTUnwrap(lines.last)
        XCTAssertTrue(secret.hasPrefix("whsec_"), added.stdout)
        XCTAssertEqual(secret.count, 70, "alone on its line")
        let second = try json("endpoints", "add", "http://127.0.0.1:9/x")
        let id = try XCTUnwrap(second["id"]?.int64)
        XCTAssertTrue(second["secret"]?.string?.hasPrefix("whsec_") ?? false)

        var list = try json("endpoints", "list")["endpoints"]?.array ?? []
        XCTAssertEqual(list.count, 2)
        XCTAssertNil(list[0]["secret"], "the secret is shown once, never listed")
        XCTAssertFalse(try tally("endpoints", "list").stdout.contains("whsec_"))

        try tally("endpoints", "disable", String(id))
        list = try json("endpoints", "list")["endpoints"]?.array ?? []
        XCTAssertEqual(list[1]["enabled"]?.bool, false)
        XCTAssertEqual(list[1]["disabled_reason"]?.string, "disabled by an operator")
        XCTAssertEqual(try json("endpoints", "enable", String(id))["status"]?.string, "enabled")
        try tally("endpoints", "remove", String(id))
        XCTAssertEqual(try json("endpoints", "list")["endpoints"]?.array?.count, 1)
        try tally("endpoints", "enable", String(id), expect: 1)        // removed: no such endpoint
        try tally("endpoints", "disable", "424242", expect: 1)
        try tally("endpoints", "remove", "abc", expect: 2)
        try tally("endpoints", "add", "ftp://example.com/x", expect: 2)
        try tally("endpoints", "add", "not a url", expect: 2)
    }
}
