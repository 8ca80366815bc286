import Foundation
import Postgres
import Support

/// Applies the numbered SQL files of `sql/` (`0001_jobs.sql`, ...), each once, each in its own
/// transaction, recorded in `schema_migrations`.
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

    /// Finds `sql/`: `$TALLY_SQL_DIR`, then `share/tally/sql` beside the executable's folder,
    /// then the nearest `sql/` above the executable (a build inside the checkout) or the
    /// current directory.
    public static func locateDirectory(environment: Environment = Environment()) throws -> URL {
        let fm = FileManager.default
        func valid(_ url: URL) -> Bool { fm.fileExists(atPath: url.appendingPathComponent("0001_jobs.sql").path) }
        if let dir = environment["TALLY_SQL_DIR"] {
            let url = URL(fileURLWithPath: dir)
            guard valid(url) else { throw QueueError.invalid("TALLY_SQL_DIR=\(dir) has no 0001_jobs.sql") }
            return url
        }
        var starts: [URL] = []
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        starts.append(exe.deletingLastPathComponent())
        if let bin = Bundle.main.executableURL?.resolvingSymlinksInPath() { starts.append(bin.deletingLastPathComponent()) }
        starts.append(URL(fileURLWithPath: fm.currentDirectoryPath))
        for start in starts {
            let share = start.deletingLastPathComponent().appendingPathComponent("share/tally/sql")
            if valid(share) { return share }
            var dir = start
            for _ in 0..<8 {
                let candidate = dir.appendingPathComponent("sql")
                if valid(candidate) { return candidate }
                dir = dir.deletingLastPathComponent()
            }
        }
        throw QueueError.notFound("cannot find the sql/ migrations folder; set TALLY_SQL_DIR to it")
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
        try connection.query("SELECT pg_advisory_lock($1::bigint)", [Migrator.lockKey])
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
