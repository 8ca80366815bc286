import Foundation
import Postgres
import Queue
import Support
import TestSupport
import XCTest

final class MigrateCommandTests: XCTestCase {
    func testMigrateTwiceAtOnceThenAgain() async throws {
        let admin = try Connection.connect(TestDatabase.url(for: "postgres"))
        let name = "cmd_" + Crypto.randomHex(5)
        try admin.execute("CREATE DATABASE \(name)")
        defer { _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        let env = ["DATABASE_URL": TestDatabase.url(for: name)]
        let a = try TallyProcess(["migrate", "--json"], environment: env)
        let b = try TallyProcess(["migrate", "--json"], environment: env)
        let sa = try await a.waitForExit(), sb = try await b.waitForExit()
        XCTAssertEqual([sa, sb], [0, 0], a.log + b.log)
        let applied = try [a.log, b.log].map { try JSON.parse($0)["applied"]?.array?.count ?? -1 }
        let total = try Migrator.count()
        XCTAssertEqual(applied.reduce(0, +), total, "every migration applied once between the two")
        let again = try TallyRun.run(["migrate"], environment: env)
        XCTAssertEqual(again.status, 0)
        XCTAssertEqual(again.stdout, "Nothing to apply: \(total) migrations already applied.\n")
    }
}

extension Migrator {
    static func count() throws -> Int { try Migrator(directory: TestDatabase.sqlDirectory).migrations.count }
}
