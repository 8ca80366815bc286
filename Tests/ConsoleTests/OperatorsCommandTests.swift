import Foundation
import Support
import TestSupport
import XCTest

/// `tally operators create | list | revoke` through the built binary.
final class OperatorsCommandTests: XCTestCase {
    func testCreateShowsTheTokenOnceListAndRevoke() throws {
        let db = try TestDatabase.create()
        let env = ["DATABASE_URL": db.url, "TALLY_ACTOR": "root"]
        let created = try TallyRun.run(["operators", "create", "alice"], environment: env)
        XCTAssertEqual(created.status, 0, created.stderr)
        let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(token.hasPrefix("tallyop_") && token.count == 72, token)
        XCTAssertEqual(try db.int("SELECT count(*) FROM operators WHERE token_hash = $1", [Crypto.sha256Hex(token)]), 1, "stored hashed")
        XCTAssertEqual(try db.int("SELECT count(*) FROM operators WHERE token_hash = $1", [token]), 0)
        XCTAssertEqual(try TallyRun.run(["operators", "create", "alice"], environment: env).status, 1, "one live operator per name")
        XCTAssertEqual(try TallyRun.run(["operators", "create", "bad name"], environment: env).status, 2)

        let list = try TallyRun.run(["operators", "list", "--json"], environment: env)
        XCTAssertEqual(list.status, 0, list.stderr)
        let listed = try JSON.parse(Array(list.stdout.utf8))["operators"]?.array ?? []
        XCTAssertEqual(listed.map { $0["name"]?.string ?? "" }, ["alice"])
        XCTAssertFalse(list.stdout.contains(token), "the token is never shown again")

        XCTAssertEqual(try TallyRun.run(["operators", "revoke", "alice"], environment: env).status, 0)
        XCTAssertEqual(try TallyRun.run(["operators", "revoke", "alice"], environment: env).status, 1)
        XCTAssertEqual(try db.int("SELECT count(*) FROM audit_log WHERE actor = 'root' AND action IN ('operators.create', 'operators.revoke')"), 2)
        XCTAssertEqual(try TallyRun.run(["operators", "create", "alice"], environment: env).status, 0, "a revoked name can be used again")
    }
}
