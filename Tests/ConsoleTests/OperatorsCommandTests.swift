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

    /// `tally console` as its own process: it serves the sign-in page, signs an operator in,
    /// and stops on SIGTERM with exit 0.
    func testTheConsoleCommandServesAndStopsOnSIGTERM() async throws {
        let db = try TestDatabase.create()
        let token = try XCTUnwrap(try TallyRun.run(["operators", "create", "alice"], environment: ["DATABASE_URL": db.url])
            .stdout.split(separator: "\n").first.map(String.init))
        let process = try TallyProcess(["console"], environment: ["DATABASE_URL": db.url, "TALLY_CONSOLE_LISTEN": "127.0.0.1:0", "TALLY_LOG_LEVEL": "info"])
        defer { process.signal(SIGKILL) }
        var port: UInt16?
        try await waitUntil("the console listens") {
            port = process.log.split(separator: "\n").lazy.compactMap { line -> UInt16? in
                guard line.contains("console listening"), let r = line.range(of: "127.0.0.1:") else { return nil }
                return UInt16(line[r.upperBound...].prefix { $0.isNumber })
            }.first
            return port != nil
        }
        let client = ConsoleClient(port: try XCTUnwrap(port))
        let (status, _) = try await client.signIn(token)
        XCTAssertEqual(status, 303, process.log)
        let overview = try await client.get("/")
        XCTAssertEqual(overview.status, 200)
        process.signal(SIGTERM)
        let exit = try await process.waitForExit(timeout: 20)
        XCTAssertEqual(exit, 0, process.log)
    }
}
