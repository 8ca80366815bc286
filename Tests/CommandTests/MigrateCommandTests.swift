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

    /// One file is a whole deployment: the binary copied outside the checkout, started from `/`
    /// with nothing but DATABASE_URL in its environment (no TALLY_SQL_DIR, no PG* variables, no
    /// sql/ folder anywhere near), migrates a fresh database from the migrations compiled into it.
    func testACopiedBinaryMigratesFromTheRootWithOnlyDatabaseURL() throws {
        let env = ProcessInfo.processInfo.environment
        guard let host = env["PGHOST"], let port = env["PGPORT"], let user = env["PGUSER"] else {
            return XCTFail("PGHOST, PGPORT and PGUSER are not set: run the tests with ops/test")
        }
        let admin = try Connection.connect(TestDatabase.url(for: "postgres"))
        let name = "cmd_" + Crypto.randomHex(5)
        try admin.execute("CREATE DATABASE \(name)")
        defer { _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-alone-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = dir.appendingPathComponent("tally")
        try FileManager.default.copyItem(at: TallyProcess.binary, to: binary)
        let url = "postgresql:///\(name)?host=\(host)&port=\(port)&user=\(user)"

        let files = try Migrator(directory: TestDatabase.sqlDirectory).migrations
        let first = try Self.runAlone(binary, ["migrate"], environment: ["DATABASE_URL": url])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(first.stdout, files.map { "applied \($0.name)\n" }.joined() + "\(files.count) applied, 0 already applied.\n")
        let rows = try Connection.connect(TestDatabase.url(for: name)).query("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        let recorded = try rows.map { "\(try $0.int("version")) \(try $0.string("name")) \(try $0.string("checksum"))" }
        XCTAssertEqual(recorded, files.map { "\($0.version) \($0.name) \($0.checksum)" }, "the files' versions, names and checksums")

        let again = try Self.runAlone(binary, ["migrate"], environment: ["DATABASE_URL": url])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout, "Nothing to apply: \(files.count) migrations already applied.\n")
        XCTAssertEqual(again.stderr, "", "no migration reported as changed since applied")
    }

    /// TALLY_SQL_DIR still points `tally migrate` at a folder of files instead.
    func testTALLY_SQL_DIROverridesTheBuiltInMigrations() throws {
        let admin = try Connection.connect(TestDatabase.url(for: "postgres"))
        let name = "cmd_" + Crypto.randomHex(5)
        try admin.execute("CREATE DATABASE \(name)")
        defer { _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-sql-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for file in try FileManager.default.contentsOfDirectory(atPath: TestDatabase.sqlDirectory.path) where file.hasSuffix(".sql") {
            try FileManager.default.copyItem(at: TestDatabase.sqlDirectory.appendingPathComponent(file), to: dir.appendingPathComponent(file))
        }
        try Data("CREATE TABLE override_probe (id int);\n".utf8).write(to: dir.appendingPathComponent("9999_override_probe.sql"))
        let env = ["DATABASE_URL": TestDatabase.url(for: name), "TALLY_SQL_DIR": dir.path]
        let run = try TallyRun.run(["migrate", "--json"], environment: env)
        XCTAssertEqual(run.status, 0, run.stderr)
        let applied = try JSON.parse(run.stdout)["applied"]?.array?.compactMap(\.string) ?? []
        XCTAssertEqual(applied.count, try Migrator.count() + 1)
        XCTAssertEqual(applied.last, "9999_override_probe")

        let bad = try TallyRun.run(["migrate"], environment: ["DATABASE_URL": TestDatabase.url(for: name), "TALLY_SQL_DIR": dir.appendingPathComponent("none").path])
        XCTAssertEqual(bad.status, 2)
        XCTAssertEqual(bad.stderr, "tally migrate: TALLY_SQL_DIR=\(dir.appendingPathComponent("none").path) has no 0001_jobs.sql\n")
    }

    /// Runs `binary args…` with exactly `environment` (nothing inherited) from `/`.
    static func runAlone(_ binary: URL, _ args: [String], environment: [String: String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        p.environment = environment
        p.currentDirectoryURL = URL(fileURLWithPath: "/")
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

extension Migrator {
    static func count() throws -> Int { try Migrator(directory: TestDatabase.sqlDirectory).migrations.count }
}
