import Foundation
import Postgres
import Queue
import Support
import XCTest

/// An isolated database per test, copied from a migrated template (~30 ms), dropped after.
///
/// Tests reach PostgreSQL through libpq's environment (PGHOST, PGPORT, PGUSER), which
/// `ops/test` sets for its private cluster. The template is named after the migrations'
/// checksum, created once per cluster under an advisory lock (parallel test processes agree).
public final class TestDatabase: @unchecked Sendable {
    // @unchecked: immutable after init; `dropped` is only touched by the test that owns it.
    public let name: String
    public let url: String
    private var dropped = false

    public static var sqlDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("sql")
    }

    public static func url(for database: String) -> String { "postgresql:///\(database)" }

    /// Creates a fresh migrated database.
    public static func create(file: StaticString = #filePath, line: UInt = #line) throws -> TestDatabase {
        guard ProcessInfo.processInfo.environment["PGHOST"] != nil else {
            XCTFail("PGHOST is not set: run the tests with ops/test, which starts a private PostgreSQL", file: file, line: line)
            throw PostgresError(kind: .usage, message: "no test PostgreSQL (run ops/test)")
        }
        let template = try ensureTemplate()
        let name = "t_" + Crypto.randomHex(6)
        let admin = try Connection.connect(url(for: "postgres"))
        // The template is only read; several tests copy it at once.
        try admin.execute("CREATE DATABASE \(name) TEMPLATE \(template)")
        return TestDatabase(name: name)
    }

    /// A fresh database copied from this one, as it is now (nobody may be connected to this
    /// one: close its connections and stop its workers first). Dropped like any other.
    public func copy() throws -> TestDatabase {
        let name = "t_" + Crypto.randomHex(6)
        let admin = try Connection.connect(TestDatabase.url(for: "postgres"))
        try admin.execute("CREATE DATABASE \(name) TEMPLATE \(self.name)")
        return TestDatabase(name: name)
    }

    private init(name: String) {
        self.name = name
        self.url = TestDatabase.url(for: name)
    }

    deinit { drop() }

    public func connect() throws -> Connection { try Connection.connect(url) }

    public func pool(_ size: Int = 4) -> ConnectionPool { ConnectionPool(url: url, maxConnections: size) }

    /// One value from a query, for assertions.
    public func scalar(_ sql: String, _ params: [any PostgresEncodable] = []) throws -> String? {
        let c = try connect()
        return try c.query(Query(adHoc: sql), params).first?.raw(at: 0)
    }

    public func int(_ sql: String, _ params: [any PostgresEncodable] = []) throws -> Int64 {
        guard let text = try scalar(sql, params), let n = Int64(text) else {
            throw PostgresError(kind: .decoding, message: "expected an integer from: \(sql)")
        }
        return n
    }

    public func drop() {
        guard !dropped else { return }
        dropped = true
        if let admin = try? Connection.connect(TestDatabase.url(for: "postgres")) {
            _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }
    }

    private static let templateLock = NSLock()
    nonisolated(unsafe) private static var templateName: String?  // guarded by templateLock

    static func ensureTemplate() throws -> String {
        templateLock.lock()
        defer { templateLock.unlock() }
        if let t = templateName { return t }
        let migrator = try Migrator(directory: sqlDirectory)
        let checksum = Crypto.sha256Hex(migrator.migrations.map(\.checksum).joined())
        let name = "tally_template_" + checksum.prefix(12)
        let admin = try Connection.connect(url(for: "postgres"))
        try admin.query("SELECT pg_advisory_lock(4242)")
        defer { _ = try? admin.query("SELECT pg_advisory_unlock(4242)") }
        let exists = try admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]).count == 1
        if !exists {
            let building = name + "_building"
            try admin.execute("DROP DATABASE IF EXISTS \(building)")
            try admin.execute("CREATE DATABASE \(building)")
            do {
                let c = try Connection.connect(url(for: building))
                try migrator.migrate(c)
            }
            // Renamed only once complete: a crash halfway never leaves a broken template.
            try admin.execute("ALTER DATABASE \(building) RENAME TO \(name)")
        }
        templateName = name
        return name
    }
}
