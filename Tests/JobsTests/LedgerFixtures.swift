import Foundation
import Jobs
import Postgres
import Support
import TestSupport
import XCTest

/// Small helpers for ledger tests: accounts and grants straight through the ledger core.
enum LedgerFixtures {
    /// Opens an account (no trial) and adds the grants given.
    @discardableResult
    static func account(_ user: String, on c: Connection, grants: [(GrantSource, Int64, Date?)] = []) throws -> [Int64] {
        try c.transaction { tx in
            try Ledger.openAccount(user, openedBy: .operator, on: tx)
            let book = LedgerBook(tx)
            try book.load([user])
            var ids: [Int64] = []
            for (i, g) in grants.enumerated() {
                let change = try book.grant(NewGrant(userID: user, source: g.0, amount: g.1, expiresAt: g.2,
                                                     reference: "fixture:\(user):\(i):\(Crypto.randomHex(4))"))
                ids.append(change!.grantID!)
            }
            try book.commit()
            return ids
        }
    }

    static func balance(_ user: String, on c: Connection) throws -> Int64 {
        try LedgerReads.account(user, on: c)!["balance"]!.int64!
    }

    static func remaining(_ grant: Int64, on c: Connection) throws -> Int64 {
        try c.query("SELECT remaining FROM grants WHERE id = $1", [grant]).first!.int64("remaining")
    }

    static func debt(_ user: String, on c: Connection) throws -> Int64 {
        try c.query("SELECT debt FROM accounts WHERE user_id = $1", [user]).first!.int64("debt")
    }

    static func assertVerified(_ c: Connection, file: StaticString = #filePath, line: UInt = #line) throws {
        let report = try LedgerVerifier.verify(on: c)
        XCTAssertTrue(report.ok, "ledger verify: \(report.failures)", file: file, line: line)
    }

    static func fixture(_ name: String) throws -> String {
        let url = Fixture.url("stripe/" + name)
        return try String(contentsOf: url, encoding: .utf8)
    }

    static func days(_ n: Double) -> Date { Date().addingTimeInterval(n * 86400) }
}
