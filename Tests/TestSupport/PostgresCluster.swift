import Foundation
import Postgres
import Queue
import XCTest

/// A PostgreSQL cluster of a test's own (initdb in a fresh folder, unix socket only, in its own
/// socket folder), for what cannot be done to the shared one ops/test starts: restart it, kill
/// it, stream it to a standby and promote that. As root, everything runs as the `postgres`
/// user, which initdb requires (SWIFT-ON-LINUX.md), in a folder that user owns.
public final class PostgresCluster: @unchecked Sendable {
    // @unchecked: the paths are immutable; the server is driven by the test that owns this.
    public let directory: String
    public let dataDirectory: String
    public let socketDirectory: String
    public let port: Int
    private let options: [String]

    /// `port`: a number for the socket's name (`.s.PGSQL.<port>`); clusters in other socket
    /// folders may use the same one. `fast`: fsync off (never for a test of what survives
    /// an operating system crash; a PostgreSQL crash is fine, the WAL is in the page cache).
    public static func create(name: String = "pg", port: Int = 5432, fast: Bool = true, settings: [String] = []) throws -> PostgresCluster {
        let dir = try makeOwnedDirectory()
        let cluster = PostgresCluster(directory: dir, name: name, port: port, fast: fast, settings: settings)
        try run(["initdb", "-D", cluster.dataDirectory, "-U", ownerName, "--auth=trust", "-E", "UTF8", "--no-locale"])
        try cluster.start()
        return cluster
    }

    private init(directory: String, name: String, port: Int, fast: Bool, settings: [String]) {
        self.directory = directory
        self.dataDirectory = directory + "/" + name
        self.socketDirectory = directory + "/s-" + name
        self.port = port
        var o = ["listen_addresses=''", "unix_socket_directories='\(socketDirectory)'", "port=\(port)", "max_connections=100",
                 "shared_buffers=32MB", "wal_keep_size=256MB"]
        if fast { o += ["fsync=off", "full_page_writes=off"] }
        options = o + settings
        try? FileManager.default.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true)
        Self.giveToOwner(socketDirectory)
    }

    deinit {
        _ = try? Self.run(["pg_ctl", "-D", dataDirectory, "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// libpq's URL of `database` on this cluster.
    public func url(_ database: String = "postgres") -> String {
        "postgresql:///\(database)?host=\(socketDirectory)&port=\(port)&user=\(Self.ownerName)"
    }

    /// The key=value form (`host=… port=…`), for multi-host strings.
    public var hostAndPort: (host: String, port: String) { (socketDirectory, String(port)) }

    public var log: String { (try? String(contentsOfFile: dataDirectory + ".log", encoding: .utf8)) ?? "" }

    public func start() throws {
        try Self.run(["pg_ctl", "-D", dataDirectory, "-l", dataDirectory + ".log", "-o", options.map { "-c " + $0 }.joined(separator: " "),
                      "-w", "-t", "60", "start"])
    }

    /// `pg_ctl stop -m mode` (immediate: no checkpoint, every backend killed: a crash).
    public func stop(mode: String = "fast") throws {
        try Self.run(["pg_ctl", "-D", dataDirectory, "-m", mode, "-w", "stop"])
    }

    /// The postmaster's pid (from postmaster.pid), for `kill -9`.
    public var postmasterPID: Int32? {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.flatMap { Int32($0) }
    }

    /// Kills the postmaster with SIGKILL, as a machine dying would (its backends exit when they
    /// notice, within moments: they die with it for clients, whose connections break).
    public func kill9() {
        guard let pid = postmasterPID else { return }
        // Stopped first, so it cannot react to its children's deaths; then the children (by
        // their parent's id, from /proc), then itself: every process at once, as a machine's
        // death would take them.
        kill(pid, SIGSTOP)
        for child in Self.children(of: pid) { kill(child, SIGKILL) }
        kill(pid, SIGKILL)
    }

    /// The pids whose parent is `pid` (field 4 of /proc/N/stat).
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { name -> Int32? in
            guard let child = Int32(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid ? child : nil
        }
    }

    /// `pg_ctl promote`: a standby becomes a primary.
    public func promote() throws { try Self.run(["pg_ctl", "-D", dataDirectory, "-w", "promote"]) }

    /// A streaming standby of this cluster (`pg_basebackup -R`), started with its own socket.
    public func standby(name: String = "standby", settings: [String] = []) throws -> PostgresCluster {
        let s = PostgresCluster(directory: directory, name: name, port: port, fast: options.contains("fsync=off"), settings: settings)
        try Self.run(["pg_basebackup", "-D", s.dataDirectory, "-h", socketDirectory, "-p", String(port), "-U", Self.ownerName,
                      "-R", "-X", "stream", "-c", "fast"])
        try s.start()
        return s
    }

    /// Creates `database` and runs the migrations in it; returns its URL.
    public func migratedDatabase(_ database: String = "tally") throws -> String {
        let admin = try Connection.connect(url())
        try admin.execute("CREATE DATABASE \(database)")
        try Migrator.load().migrate(try Connection.connect(url(database)))
        return url(database)
    }

    // MARK: Running as the cluster's owner

    public static var ownerName: String { getuid() == 0 ? "postgres" : (ProcessInfo.processInfo.environment["USER"] ?? NSUserName()) }

    /// A new folder under /tmp (socket paths must stay short), owned by the cluster's owner.
    static func makeOwnedDirectory() throws -> String {
        var template = Array("/tmp/tally-cl.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw PostgresError(kind: .usage, message: "mkdtemp failed: errno \(errno)") }
        let dir = String(cString: made)
        giveToOwner(dir)
        return dir
    }

    /// chown to `postgres` when root (the server refuses to run as root).
    public static func giveToOwner(_ path: String) {
        guard getuid() == 0, let pw = getpwnam("postgres") else { return }
        _ = chown(path, pw.pointee.pw_uid, pw.pointee.pw_gid)
    }

    /// Runs a PostgreSQL tool (found on PATH, where ops/test put /usr/lib/postgresql/N/bin) as
    /// the cluster's owner; throws with its output when it fails.
    @discardableResult
    public static func run(_ args: [String]) throws -> String {
        guard let tool = args.first, let path = which(tool) else {
            throw PostgresError(kind: .usage, message: "\(args.first ?? "") is not on PATH (run the tests with ops/test)")
        }
        // As root through runuser (the server and initdb refuse root).
        let (status, text) = getuid() == 0
            ? try Spawn.run("/usr/sbin/runuser", ["-u", "postgres", "--", path] + args.dropFirst())
            : try Spawn.run(path, Array(args.dropFirst()))
        guard status == 0 else {
            throw PostgresError(kind: .usage, message: "\(args.joined(separator: " ")) failed (\(status)): \(text.suffix(800))")
        }
        return text
    }

    /// The absolute path of `tool` on PATH (or the Debian server folder, or /usr/bin).
    public static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/lib/postgresql/15/bin", "/usr/sbin", "/usr/bin"]
        return dirs.map { $0 + "/" + tool }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
