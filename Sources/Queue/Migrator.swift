import Foundation
import Postgres
import Support

/// Applies the numbered SQL files of `sql/` (`0001_jobs.sql`, ...), each once, each in its own
/// transaction, recorded in `schema_migrations`. The binary carries them (`embedded`, generated
/// from `sql/` by `ops/gen-migrations`); `TALLY_SQL_DIR` points it at a folder instead (`load`).
///
/// Safe when several `tally migrate` run at once: a session advisory lock serialises them, and
/// the second finds the work done. Re-running applies only what is new. A file that was
/// changed after it was applied is reported (its checksum is kept), never re-applied.
public struct Migrator: Sendable {
    public struct Migration: Sendable {
        public let version: Int
        public let name: String
        public let sql: String
        public var checksum: String { Crypto.sha256Hex(sql) }
    }

    /// The advisory lock key of migrations (an arbitrary constant: "tally" in ASCII).
    static let lockKey: Int64 = 0x74_61_6C_6C_79

    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Reads `NNNN_name.sql` files from `directory`.
    public init(directory: URL) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        var migrations: [Migration] = []
        var seen: Set<Int> = []
        for file in files where file.hasSuffix(".sql") {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]) else {
                throw QueueError.invalid("migration file \(file) is not named NNNN_name.sql")
            }
            guard seen.insert(version).inserted else {
                throw QueueError.invalid("two migration files have number \(version)")
            }
            let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            migrations.append(Migration(version: version, name: String(stem), sql: sql))
        }
        self.init(migrations: migrations)
    }

    /// The migrations compiled into this binary: the files of `sql/`, copied into
    /// `Migrations+Embedded.swift` by `ops/gen-migrations` (a test checks they are the same).
    public static let embedded = Migrator(migrations: embeddedMigrations)

    /// What `tally migrate` applies: the files of `$TALLY_SQL_DIR` when it is set (an override),
    /// else the migrations compiled into the binary, so a binary copied anywhere and started
    /// from any directory needs no `sql/` folder beside it.
    public static func load(environment: Environment = Environment()) throws -> Migrator {
        guard let dir = environment["TALLY_SQL_DIR"] else { return embedded }
        let url = URL(fileURLWithPath: dir)
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("0001_jobs.sql").path) else {
            throw QueueError.invalid("TALLY_SQL_DIR=\(dir) has no 0001_jobs.sql")
        }
        return try Migrator(directory: url)
    }

    public struct Report: Sendable {
        public var applied: [String] = []
        public var alreadyApplied = 0
        /// Files whose text changed after they were applied.
        public var changed: [String] = []
    }

    /// Applies what is missing. Blocks while another migrate holds the lock.
    @discardableResult
    public func migrate(_ connection: Connection) throws -> Report {
        // Waiting for another migrate, which may be running a long migration, blocks nobody
        // else: neither the session's lock_timeout nor its statement_timeout applies to it.
        try connection.transaction { tx in
            try tx.execute("SET LOCAL lock_timeout = 0; SET LOCAL statement_timeout = 0")
            try tx.query("SELECT pg_advisory_lock($1::bigint)", [Migrator.lockKey])
        }
        defer { _ = try? connection.query("SELECT pg_advisory_unlock($1::bigint)", [Migrator.lockKey]) }
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        var applied: [Int: String] = [:]
        for row in try connection.query("SELECT version, checksum FROM schema_migrations") {
            applied[try row.int("version")] = try row.string("checksum")
        }
        var report = Report()
        for m in migrations {
            if let checksum = applied[m.version] {
                report.alreadyApplied += 1
                if checksum != m.checksum { report.changed.append(m.name) }
                continue
            }
            do {
                try connection.transaction { tx in
                    // A migration may rewrite or index a big table: no statement_timeout. The
                    // lock_timeout stays: DDL waiting behind a long transaction for its lock
                    // would queue every other session behind it; failing after
                    // TALLY_DB_LOCK_TIMEOUT (nothing applied) and running again is better.
                    try tx.execute("SET LOCAL statement_timeout = 0")
                    try tx.execute(m.sql)
                    try tx.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                                 [m.version, m.name, m.checksum])
                }
            } catch {
                throw QueueError.invalid("migration \(m.name) failed, nothing of it was applied: \(error)")
            }
            report.applied.append(m.name)
        }
        return report
    }
}
