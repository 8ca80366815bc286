import Foundation
import HTTPServer
import Postgres
import Support

/// `tally console`'s settings (README, "The operator console").
public struct ConsoleConfig: Sendable {
    public var databaseURL: String
    /// TALLY_CONSOLE_LISTEN, default 127.0.0.1:8081.
    public var server: ServerConfig
    /// TALLY_CONSOLE_SECURE_COOKIES=on: cookies carry `Secure` (behind TLS).
    public var secureCookies: Bool
    /// TALLY_CONSOLE_SESSION_TTL (12h): a session ends this long after sign-in.
    public var sessionTTL: TimeInterval
    /// TALLY_CONSOLE_DB_POOL (4).
    public var poolSize: Int
    public var sessionLimits: SessionLimits

    public static let defaultListen = "127.0.0.1:8081"

    public static func from(_ env: Environment) throws -> ConsoleConfig {
        var server = ServerConfig()
        try server.setListen(env["TALLY_CONSOLE_LISTEN"] ?? defaultListen, setting: "TALLY_CONSOLE_LISTEN")
        // Operator pages are few and light: two loops are plenty and leave the cores to the app.
        server.threads = try env.checkedInt("TALLY_CONSOLE_THREADS", default: 2, in: 1...64)
        server.maxConnections = 512
        return ConsoleConfig(
            databaseURL: try env.require("DATABASE_URL", for: "the console's database"),
            server: server,
            secureCookies: try env.checkedSwitch("TALLY_CONSOLE_SECURE_COOKIES", default: false),
            sessionTTL: try env.checkedDuration("TALLY_CONSOLE_SESSION_TTL", default: 12 * 3600, minimum: 60),
            poolSize: try env.checkedInt("TALLY_CONSOLE_DB_POOL", default: 4, in: 1...64),
            sessionLimits: try SessionLimits(environment: env))
    }
}
