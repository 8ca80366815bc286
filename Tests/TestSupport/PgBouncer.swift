import Foundation
import XCTest

/// A real PgBouncer (Debian's `pgbouncer`, which ops/test installs when missing) in
/// transaction pooling mode, in a folder of its own: its unix socket only (no TCP), trust
/// authentication of the one user of `auth_file`, every database passed to the server at
/// `serverHost`/`serverPort`. As root it runs as `postgres` (PgBouncer refuses root).
public final class PgBouncer: @unchecked Sendable {
    // @unchecked: immutable after init; the process is driven by the test that owns it.
    public let directory: String
    public let port: Int
    private let pid: pid_t

    /// `poolSize`: server connections per database and user — fewer than the clients, so
    /// that clients' transactions really do share server connections.
    public init(serverHost: String, serverPort: String, port: Int = 6439, poolSize: Int = 4) throws {
        guard let binary = PostgresCluster.which("pgbouncer") else {
            XCTFail("pgbouncer is not installed (ops/test installs it)")
            throw WaitTimeout(description: "no pgbouncer")
        }
        directory = try PostgresCluster.makeOwnedDirectory()
        self.port = port
        let user = PostgresCluster.ownerName
        let config = """
            [databases]
            * = host=\(serverHost) port=\(serverPort)

            [pgbouncer]
            listen_addr =
            listen_port = \(port)
            unix_socket_dir = \(directory)
            auth_type = trust
            auth_file = \(directory)/users.txt
            pool_mode = transaction
            default_pool_size = \(poolSize)
            max_client_conn = 500
            ignore_startup_parameters = extra_float_digits
            logfile = \(directory)/pgbouncer.log
            pidfile = \(directory)/pgbouncer.pid
            admin_users = \(user)
            """
        try config.write(toFile: directory + "/pgbouncer.ini", atomically: true, encoding: .utf8)
        try "\"\(user)\" \"\"\n".write(toFile: directory + "/users.txt", atomically: true, encoding: .utf8)
        for f in ["pgbouncer.ini", "users.txt"] { PostgresCluster.giveToOwner(directory + "/" + f) }
        pid = getuid() == 0
            ? try Spawn.start("/usr/sbin/runuser", ["-u", "postgres", "--", binary, directory + "/pgbouncer.ini"], output: "/dev/null")
            : try Spawn.start(binary, [directory + "/pgbouncer.ini"], output: "/dev/null")
        let socket = directory + "/.s.PGSQL.\(port)"
        try waitUntilSync(timeout: 20) { FileManager.default.fileExists(atPath: socket) || kill(pid, 0) != 0 }
        guard FileManager.default.fileExists(atPath: socket) else {
            XCTFail("pgbouncer exited: \(log)")
            throw WaitTimeout(description: "pgbouncer did not start")
        }
    }

    deinit {
        // runuser passes SIGTERM on to pgbouncer (a clean shutdown); then the folder goes.
        kill(pid, SIGTERM)
        Spawn.wait(pid)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The URL of `database` through the pooler.
    public func url(_ database: String) -> String { "postgresql:///\(database)?host=\(directory)&port=\(port)" }

    public var log: String { (try? String(contentsOfFile: directory + "/pgbouncer.log", encoding: .utf8)) ?? "" }
}
