import Foundation
import Postgres
import Support
import TestSupport
import XCTest

/// The ledger's commands, run as the real `tally` binary against a real database; JSON parsed.
final class LedgerCommandTests: XCTestCase {
    func tally(_ db: TestDatabase, _ args: String...) throws -> TallyRun {
        try TallyRun.run(args, environment: ["DATABASE_URL": db.url])
    }

    func json(_ run: TallyRun, file: StaticString = #filePath, line: UInt = #line) throws -> JSON {
        XCTAssertEqual(run.status, 0, run.stderr, file: file, line: line)
        return try JSON.parse(run.stdout)
    }

    func testGrantDebitAndAccountsShow() throws {
        let db = try TestDatabase.create()
        try db.connect().query("INSERT INTO accounts (user_id, opened_by) VALUES ('u1', 'operator')")

        let granted = try json(try tally(db, "grant", "u1", "40", "--reason", "support ticket 12", "--actor", "ana", "--json"))
        XCTAssertEqual(granted["balance"]?.int64, 40)
        let text = try tally(db, "grant", "u1", "10", "--reason", "goodwill", "--actor", "ana", "--expires", "+30d", "--reference", "t-1")
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertEqual(text.stdout, "granted 10 credits to u1; balance 50\n")
        let again = try tally(db, "grant", "u1", "10", "--reason", "goodwill", "--actor", "ana", "--reference", "t-1")
        XCTAssertTrue(again.stdout.contains("already applied"), again.stdout)

        let refused = try tally(db, "debit", "u1", "51", "--reason", "abuse", "--actor", "bo")
        XCTAssertEqual(refused.status, 1, "a debit never creates debt")
        XCTAssertEqual(refused.stderr, "tally debit: refused: the balance 50 does not cover 51; a debit never creates debt\n")
        let debited = try json(try tally(db, "debit", "u1", "15", "--reason", "abuse", "--actor", "bo", "--json"))
        XCTAssertEqual(debited["balance"]?.int64, 35)

        let show = try json(try tally(db, "accounts", "show", "u1", "--json"))
        XCTAssertEqual(show["balance"]?.int64, 35)
        XCTAssertEqual(show["debt"]?.int64, 0)
        XCTAssertEqual(show["grants"]?.array?.map { $0["remaining"]!.int64! }, [35], "the 10 expiring in 30 days went first, then 5 of the 40")
        XCTAssertEqual(show["grants"]?.array?.first?["source"]?.string, "adjustment")
        XCTAssertTrue(show["subscription"]?.isNull ?? false)
        let entries = try XCTUnwrap(show["entries"]?.array)
        XCTAssertEqual(entries.map { $0["amount"]!.int64! }, [-15, 10, 40], "newest first")
        let meta = try XCTUnwrap(db.connect().query("SELECT metadata FROM ledger_entries WHERE amount = -15").first).json("metadata")
        XCTAssertEqual(meta["actor"]?.string, "bo")
        XCTAssertEqual(meta["reason"]?.string, "abuse")

        let table = try tally(db, "accounts", "show", "u1")
        XCTAssertEqual(table.status, 0)
        XCTAssertTrue(table.stdout.hasPrefix("user     u1\nbalance  35\ndebt     0\n"), table.stdout)

        XCTAssertEqual(try tally(db, "accounts", "show", "nobody").status, 1)
        XCTAssertEqual(try tally(db, "grant", "nobody", "5", "--reason", "r", "--actor", "a").status, 1)
        XCTAssertEqual(try tally(db, "grant", "u1", "-5", "--reason", "r", "--actor", "a").status, 2)
        XCTAssertEqual(try tally(db, "grant", "u1", "5", "--reason", "r").status, 2, "--actor is required")
        XCTAssertEqual(try tally(db, "debit", "u1", "5", "--reason", "r", "--actor", "a", "--expires", "+1d").status, 2)
    }

    /// Who made an adjustment and why shows on its entry, in the table and in --json.
    func testAccountsShowGivesEachAdjustmentsActorAndReason() throws {
        let db = try TestDatabase.create()
        try db.connect().query("INSERT INTO accounts (user_id, opened_by) VALUES ('u1', 'operator')")
        XCTAssertEqual(try tally(db, "grant", "u1", "42", "--reason", "goodwill", "--actor", "ops").status, 0)
        XCTAssertEqual(try tally(db, "debit", "u1", "2", "--reason", "ticket 7 double grant", "--actor", "ana").status, 0)

        let show = try json(try tally(db, "accounts", "show", "u1", "--json"))
        let entries = try XCTUnwrap(show["entries"]?.array)
        XCTAssertEqual(entries.map { $0["amount"]?.int64 }, [-2, 42])
        XCTAssertEqual(entries.map { $0["kind"]?.string }, ["adjustment", "adjustment"])
        XCTAssertEqual(entries[1]["metadata"]?["actor"]?.string, "ops")
        XCTAssertEqual(entries[1]["metadata"]?["reason"]?.string, "goodwill")
        XCTAssertEqual(entries[0]["metadata"]?["actor"]?.string, "ana")
        XCTAssertEqual(entries[0]["metadata"]?["reason"]?.string, "ticket 7 double grant")

        let table = try tally(db, "accounts", "show", "u1")
        XCTAssertEqual(table.status, 0, table.stderr)
        let latest = try XCTUnwrap(table.stdout.components(separatedBy: "Latest entries:\n").last, table.stdout)
        let lines = latest.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, latest)
        XCTAssertTrue(lines[0].hasPrefix("ENTRY ") && lines[0].hasSuffix("ACTOR  REASON"), lines[0])
        XCTAssertTrue(lines[1].contains(" -2 ") && lines[1].hasSuffix("ana    ticket 7 double grant"), lines[1])
        XCTAssertTrue(lines[2].contains(" 42 ") && lines[2].hasSuffix("ops    goodwill"), lines[2])
    }

    func testLedgerVerifyExitsOneNamingTheAccountsThatFail() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        for u in ["good", "bad"] { try c.query("INSERT INTO accounts (user_id, opened_by) VALUES ($1, 'operator')", [u]) }
        for u in ["good", "bad"] { XCTAssertEqual(try tally(db, "grant", u, "10", "--reason", "r", "--actor", "a").status, 0) }
        let ok = try json(try tally(db, "ledger", "verify", "--json"))
        XCTAssertEqual(ok["ok"]?.bool, true)
        XCTAssertEqual(ok["accounts"]?.int64, 2)
        XCTAssertEqual(try tally(db, "ledger", "verify").stdout, "ok: 2 account(s), every invariant holds\n")

        try c.query("UPDATE grants SET remaining = 7 WHERE user_id = 'bad'")
        let failed = try tally(db, "ledger", "verify", "--json")
        XCTAssertEqual(failed.status, 1)
        let report = try JSON.parse(failed.stdout)
        XCTAssertEqual(report["failing_accounts"], ["bad"])
        XCTAssertEqual(report["failures"]?.array?.count, 2, "the account's sum and its grant's allocations")
        XCTAssertEqual(failed.stderr, "tally ledger verify: 1 account(s) fail: bad\n")
    }

    func testAgentsAndProducts() throws {
        let db = try TestDatabase.create()
        let agents = try json(try tally(db, "agents", "list", "--json"))
        XCTAssertEqual(agents["agents"]?.array?.map { $0["name"]!.string! }, ["default"])
        XCTAssertEqual(agents["agents"]?.array?.first?["credits_per_unit"]?.int64, 1)
        XCTAssertEqual(try json(try tally(db, "agents", "set", "gpt-large", "12", "--json"))["credits_per_unit"]?.int64, 12)
        XCTAssertEqual(try tally(db, "agents", "set", "gpt-large", "1.5").status, 2)
        XCTAssertEqual(try tally(db, "agents", "set", "gpt-large").status, 2)
        XCTAssertTrue(try tally(db, "agents", "list").stdout.contains("gpt-large"))

        let products = try json(try tally(db, "products", "list", "--json"))["products"]!.array!
        let seeded = Dictionary(uniqueKeysWithValues: products.map { ($0["name"]!.string!, $0) })
        XCTAssertEqual(seeded["topup_100"]?["usd_cents"]?.int64, 499)
        XCTAssertEqual(seeded["topup_500"]?["credits"]?.int64, 500)
        XCTAssertEqual(seeded["topup_1500"]?["credits"]?.int64, 1500)
        XCTAssertEqual(seeded["monthly"]?["monthly"]?.bool, true)
        XCTAssertEqual(seeded["monthly"]?["credits"]?.int64, 250)

        let set = try json(try tally(db, "products", "set", "topup_500", "--credits", "550", "--usd-cents", "1999",
                                     "--stripe-price", "price_1ScrTopup500CrUsd0", "--json"))
        XCTAssertEqual(set["credits"]?.int64, 550)
        XCTAssertEqual(set["stripe_price_id"]?.string, "price_1ScrTopup500CrUsd0")
        XCTAssertEqual(set["monthly"]?.bool, false)
        let kept = try json(try tally(db, "products", "set", "monthly", "--credits", "300", "--usd-cents", "1099", "--json"))
        XCTAssertEqual(kept["monthly"]?.bool, true, "a product stays monthly unless --one-time")
        XCTAssertEqual(try tally(db, "products", "set", "other", "--credits", "1", "--usd-cents", "1", "--stripe-price", "price_1ScrTopup500CrUsd0").status, 1,
                       "a Stripe price buys one product")
        XCTAssertEqual(try tally(db, "products", "set", "x", "--credits", "0", "--usd-cents", "1").status, 2)
        XCTAssertEqual(try tally(db, "products", "set", "x", "--usd-cents", "1").status, 2)
        XCTAssertEqual(try tally(db, "products", "set", "Bad Name", "--credits", "1", "--usd-cents", "1").status, 2)
    }

    func testEveryLedgerCommandHasHelp() throws {
        let db = try TestDatabase.create()
        for command in [["accounts", "show"], ["ledger", "verify"], ["grant"], ["debit"], ["agents", "list"], ["agents", "set"],
                        ["products", "list"], ["products", "set"]] {
            let run = try TallyRun.run(command + ["--help"], environment: ["DATABASE_URL": db.url])
            XCTAssertEqual(run.status, 0, command.joined(separator: " "))
            XCTAssertTrue(run.stdout.hasPrefix("Usage: tally \(command.joined(separator: " "))"), run.stdout)
        }
        XCTAssertEqual(try TallyRun.run(["ledger", "verify", "--bogus"], environment: ["DATABASE_URL": db.url]).status, 2)
    }
}

/// `tally ledger stats`: credits at a glance, exact.
final class LedgerStatsCommandTests: CommandTestCase {
    func testStatsAreExactAndTheAverageIsRoundedDown() throws {
        let c = try db.connect()
        for user in ["a", "b", "c"] { try c.execute("INSERT INTO accounts (user_id, opened_by) VALUES ('\(user)', 'operator')") }
        try tally("grant", "a", "100", "--reason", "r", "--actor", "ops")
        try tally("grant", "b", "7", "--reason", "r", "--actor", "ops")
        try tally("grant", "b", "3", "--reason", "r", "--actor", "ops", "--expires", "+30d")
        try tally("debit", "a", "40", "--reason", "r", "--actor", "ops")
        // Debt on c (as a clawback leaves it).
        try c.execute("UPDATE accounts SET debt = 5 WHERE user_id = 'c'")
        let stats = try json("ledger", "stats")
        XCTAssertEqual(stats["accounts"]?.int64, 3)
        XCTAssertEqual(stats["outstanding"]?.int64, 70)
        XCTAssertEqual(stats["outstanding_by_source"], ["adjustment": 70])
        XCTAssertEqual(stats["debt"]?.int64, 5)
        XCTAssertEqual(stats["held"]?.int64, 0)
        XCTAssertEqual(stats["average_balance"]?.int64, 21, "(70 − 5) ÷ 3 = 21.67, rounded down")
        XCTAssertEqual(stats["average_balance_rounded"], "down")
        XCTAssertEqual(stats["entries"]?["adjustment"]?["count"]?.int64, 4)
        XCTAssertEqual(stats["entries"]?["adjustment"]?["credits"]?.int64, 70)
        XCTAssertEqual(try json("ledger", "stats", "--since", "2999-01-01T00:00:00Z")["entries"], [:])
        let text = try tally("ledger", "stats")
        XCTAssertTrue(text.stdout.contains("average balance   21 (rounded down)"), text.stdout)
        try tally("ledger", "stats", "--since", "tomorrow", expect: 2)
    }
}
