import Foundation
import Queue
import Support
import TestSupport
import XCTest

/// The migrations compiled into the binary (Sources/Queue/Migrations+Embedded.swift) are the
/// files of sql/, byte for byte: sql/ is the source of truth, ops/gen-migrations copies it, and
/// this test is what makes ops/test fail when someone changes one without the other.
final class EmbeddedMigrationsTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let regenerate = "Sources/Queue/Migrations+Embedded.swift is out of date with sql/: run ops/gen-migrations and commit it"

    func testTheEmbeddedMigrationsAreTheFilesOfSQL() throws {
        let files = try Migrator(directory: TestDatabase.sqlDirectory).migrations
        let embedded = Migrator.embedded.migrations
        XCTAssertFalse(files.isEmpty)
        XCTAssertEqual(embedded.map(\.version), files.map(\.version), Self.regenerate)
        XCTAssertEqual(embedded.map(\.name), files.map(\.name), Self.regenerate)
        for (e, f) in zip(embedded, files) where e.version == f.version {
            XCTAssertTrue(e.sql.utf8.elementsEqual(f.sql.utf8), "\(f.name): \(Self.regenerate)")
            // The checksum schema_migrations keeps is the SHA-256 of the file's bytes, as it was
            // when migrations were read from files: databases migrated before see no change.
            let bytes = try Data(contentsOf: TestDatabase.sqlDirectory.appendingPathComponent(f.name + ".sql"))
            XCTAssertEqual(e.checksum, Crypto.hex(Crypto.sha256(bytes)), "\(f.name): \(Self.regenerate)")
        }
    }

    /// The generated file is exactly what the script writes now (its comments too).
    func testTheGeneratorFindsNothingToChange() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [Self.root.appendingPathComponent("ops/gen-migrations").path, "--check"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let stderr = String(decoding: e, as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 0, stderr.isEmpty ? Self.regenerate : stderr)
    }

    func testWithoutTALLY_SQL_DIRTheEmbeddedMigrationsAreUsed() throws {
        let m = try Migrator.load(environment: Environment([:]))
        XCTAssertEqual(m.migrations.map(\.checksum), Migrator.embedded.migrations.map(\.checksum))
        // Empty counts as unset, like every setting.
        let empty = try Migrator.load(environment: Environment(["TALLY_SQL_DIR": ""]))
        XCTAssertEqual(empty.migrations.map(\.name), Migrator.embedded.migrations.map(\.name))
    }

    func testTALLY_SQL_DIROverridesTheEmbeddedMigrations() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sql-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("SELECT 1;\n".utf8).write(to: dir.appendingPathComponent("0001_jobs.sql"))
        try Data("SELECT 2;\n".utf8).write(to: dir.appendingPathComponent("0002_other.sql"))
        let m = try Migrator.load(environment: Environment(["TALLY_SQL_DIR": dir.path]))
        XCTAssertEqual(m.migrations.map(\.name), ["0001_jobs", "0002_other"])
        XCTAssertEqual(m.migrations.map(\.sql), ["SELECT 1;\n", "SELECT 2;\n"])

        let missing = dir.appendingPathComponent("nothing-here").path
        XCTAssertThrowsError(try Migrator.load(environment: Environment(["TALLY_SQL_DIR": missing]))) { error in
            XCTAssertEqual(error as? QueueError, .invalid("TALLY_SQL_DIR=\(missing) has no 0001_jobs.sql"))
        }
    }
}
