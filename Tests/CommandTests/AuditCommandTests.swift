import Foundation
import Jobs
import Postgres
import Support
import TestSupport
import XCTest

/// Every operator action writes an audit row in its own transaction; `tally audit list` reads
/// them (DESIGN.md, "Auditing").
final class AuditCommandTests: CommandTestCase {
    func testEveryOperatorActionIsAuditedWithWhoWhatAndWhy() throws {
        try db.connect().execute("INSERT INTO accounts (user_id, opened_by) VALUES ('u1', 'operator')")
        try tally("grant", "u1", "50", "--reason", "outage credit", "--actor", "ana@example.com")
        try tally("debit", "u1", "5", "--reason", "correction", "--actor", "ana@example.com")
        try tally("queues", "pause", "payments", "--actor", "ben", "--reason", "Stripe incident")
        try tally("queues", "resume", "payments", env: ["TALLY_ACTOR": "ben"])
        try tally("agents", "set", "gpu", "7", "--actor", "cy")
        try tally("products", "set", "topup_100", "--credits", "100", "--usd-cents", "999", "--actor", "cy")
        try tally("rewards", "set", "post_like", "2", "--actor", "cy")
        try tally("referrals", "create", "u1", "--code", "FRIEND1", "--actor", "cy")
        let key = try tally("apikey", "create", "app", "--actor", "dee")
        XCTAssertFalse(key.stdout.isEmpty)
        try tally("apikey", "revoke", "1", "--actor", "dee", "--reason", "leaked")
        try tally("endpoints", "add", "http://127.0.0.1:9/hook", "--actor", "dee")
        try tally("endpoints", "disable", "1", "--actor", "dee")
        let job = try db.int("INSERT INTO jobs (queue, kind, args, state) VALUES ('default', 'bench.noop', '{}', 'discarded') RETURNING id")
        try tally("jobs", "retry", String(job), "--actor", "eve", "--reason", "fixed the bug")
        try tally("jobs", "cancel", String(job), "--actor", "eve")
        try tally("queues", "pause", "default")   // no --actor, no TALLY_ACTOR: the login

        let all = try XCTUnwrap(json("audit", "list")["entries"]?.array)
        XCTAssertEqual(all.map { $0["action"]?.string ?? "" }, [
            "queues.pause", "jobs.cancel", "jobs.retry", "endpoints.disable", "endpoints.add", "apikey.revoke", "apikey.create",
            "referrals.create", "rewards.set", "products.set", "agents.set", "queues.resume", "queues.pause", "debit", "grant",
        ], "newest first, one row per action")
        let grant = try XCTUnwrap(all.last)
        XCTAssertEqual(grant["actor"], "ana@example.com")
        XCTAssertEqual(grant["target"], "user:u1")
        XCTAssertEqual(grant["reason"], "outage credit")
        XCTAssertEqual(grant["details"]?["credits"]?.int64, 50)
        XCTAssertEqual(all[all.count - 2]["details"]?["credits"]?.int64, -5)
        XCTAssertEqual(all[all.count - 3]["reason"], "Stripe incident")
        XCTAssertEqual(all[all.count - 4]["actor"], "ben", "TALLY_ACTOR when --actor is not given")
        XCTAssertEqual(all[2]["target"], .string("jobs:\(job)"))
        XCTAssertEqual(all[2]["details"]?["retried"], [.int(job)])
        XCTAssertEqual(all[5]["reason"], "leaked")
        XCTAssertTrue(all[0]["actor"]?.string?.hasPrefix("os:") ?? false, "\(all[0])")
        XCTAssertNil(all.first { $0["action"] == "apikey.create" }?["details"]?["key"], "never the key itself")

        XCTAssertEqual(try json("audit", "list", "--actor", "cy")["entries"]?.array?.count, 4)
        XCTAssertEqual(try json("audit", "list", "--since", "1h")["entries"]?.array?.count, all.count)
        XCTAssertEqual(try json("audit", "list", "--since", "2999-01-01T00:00:00Z")["entries"]?.array?.count, 0)
        XCTAssertEqual(try json("audit", "list", "--limit", "2")["entries"]?.array?.count, 2)
        let text = try tally("audit", "list")
        XCTAssertTrue(text.stdout.contains("outage credit") && text.stdout.contains("ana@example.com"), text.stdout)
        try tally("audit", "list", "--since", "yesterday-ish", expect: 2)
    }

    func testAFailedActionLeavesNoAuditRowAndTheLogIsAppendOnly() throws {
        try tally("endpoints", "enable", "42", "--actor", "ops", expect: 1)
        try tally("grant", "nobody", "5", "--reason", "x", "--actor", "ops", expect: 1)
        try tally("queues", "pause", "q", "--actor", String(repeating: "a", count: 300), expect: 2)
        XCTAssertEqual(try db.int("SELECT count(*) FROM audit_log WHERE action <> 'grant'"), 0, "an action that failed records nothing")
        XCTAssertEqual(try db.scalar("SELECT details->'result'->>'error' FROM audit_log WHERE action = 'grant'"), "account_not_found",
                       "a grant the ledger refused is recorded with its refusal: money movements are audited even when refused")
        try tally("queues", "pause", "q", "--actor", "ops")
        let c = try db.connect()
        for sql in ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"] {
            XCTAssertThrowsError(try c.execute(sql), sql) { XCTAssertEqual(($0 as? PostgresError)?.sqlState, "23001", "\($0)") }
        }
    }
}

/// `tally transfers`: list, show, and an operator's release or refund of an escrow (audited).
final class TransfersCommandTests: CommandTestCase {
    func testOperatorsReleaseEscrowsAndEveryEndIsAudited() throws {
        let c = try db.connect()
        for user in ["a", "b"] { try c.execute("INSERT INTO accounts (user_id, opened_by) VALUES ('\(user)', 'operator')") }
        try tally("grant", "a", "50", "--reason", "r", "--actor", "ops")
        let id = Transfers.id(fromUserID: "a", idempotencyKey: "trade-1")
        let created = try c.transaction { tx in
            try Transfers.create(id: id, from: "a", to: "b", credits: 20, escrowFor: 3600, memo: "a trade", promotional: false, on: tx)
        }
        XCTAssertEqual(created["status"], "escrowed")
        let list = try json("transfers", "list", "--status", "escrowed")
        XCTAssertEqual(list["transfers"]?[0]?["transfer_id"]?.string, id)
        try tally("transfers", "release", id, expect: 2)   // --actor is required
        let released = try json("transfers", "release", id, "--actor", "ana", "--reason", "goods delivered")
        XCTAssertEqual(released["status"], "released")
        XCTAssertEqual(try json("transfers", "refund", id, "--actor", "ana")["status"], "released", "ended once")
        XCTAssertEqual(try json("transfers", "show", id)["credits"]?.int64, 20)
        try tally("transfers", "show", "transfer_000000000000000000000000", expect: 1)
        try tally("transfers", "list", "--status", "lost", expect: 2)
        let audit = try json("audit", "list", "--actor", "ana")["entries"]?.array ?? []
        XCTAssertEqual(audit.map { $0["action"]?.string ?? "" }, ["transfers.refund", "transfers.release"])
        XCTAssertEqual(audit.last?["reason"], "goods delivered")
        XCTAssertEqual(try db.int("SELECT sum(remaining) FROM grants WHERE user_id = 'b'"), 20)
    }
}
