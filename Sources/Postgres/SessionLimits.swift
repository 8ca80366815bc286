import CLibPQ
import Foundation
import Support

/// The limits every database session Tally opens carries (DESIGN.md, "Limits everywhere"), so a
/// hung query, a lock nobody releases, a transaction left open or a connection the network
/// silently dropped cannot hold a job, a pool slot or a lock for ever:
///
/// - `statementTimeout` (`TALLY_DB_STATEMENT_TIMEOUT`, 30s): the server cancels any one
///   statement running longer (SQLSTATE 57014).
/// - `lockTimeout` (`TALLY_DB_LOCK_TIMEOUT`, 10s): the server gives up waiting for a lock
///   (55P03); the worker snoozes such a job (no attempt used) instead of failing it.
/// - `idleInTransactionTimeout` (`TALLY_DB_IDLE_IN_TRANSACTION_TIMEOUT`, 60s): the server ends
///   a session that sits in an open transaction doing nothing (a client stuck between two
///   statements), releasing its locks.
/// - `tcpTimeout` (`TALLY_DB_TCP_TIMEOUT`, 30s): TCP keepalives and `tcp_user_timeout` on the
///   client's socket, so a connection whose server or network vanished without a word errors
///   within about this long instead of waiting for ever (libpq ignores them on unix sockets).
///
/// A duration of 0 turns a limit off (0 is PostgreSQL's own "no limit"). What the connection
/// string already says wins: a `DATABASE_URL` with `options=-c statement_timeout=5s` or
/// `keepalives_idle=5` keeps its value (so does `PGOPTIONS` when the URL has no `options`).
///
/// `preparedStatements` (`TALLY_DB_PREPARED`, on) travels here too, because it changes how
/// every session is set up, not what any caller asks of it: `off` is for a pooler in
/// transaction mode (PgBouncer), where consecutive transactions of one client run on different
/// server connections. Then no statement is prepared by name, and the limits (and a pool's
/// session `settings`) are sent with every transaction (`set_config(…, true)`, one round trip
/// with its first statement) instead of once per connection, where they would land on one
/// server connection only — and on other clients' transactions after it. See `Connection`.
public struct SessionLimits: Sendable, Equatable {
    public var statementTimeout: TimeInterval
    public var lockTimeout: TimeInterval
    public var idleInTransactionTimeout: TimeInterval
    public var tcpTimeout: TimeInterval
    /// `TALLY_DB_PREPARED`: false behind a transaction-pooling PgBouncer (see above).
    public var preparedStatements: Bool

    public static let defaults = SessionLimits(statementTimeout: 30, lockTimeout: 10, idleInTransactionTimeout: 60, tcpTimeout: 30)

    public init(statementTimeout: TimeInterval, lockTimeout: TimeInterval, idleInTransactionTimeout: TimeInterval,
                tcpTimeout: TimeInterval, preparedStatements: Bool = true) {
        self.statementTimeout = statementTimeout
        self.lockTimeout = lockTimeout
        self.idleInTransactionTimeout = idleInTransactionTimeout
        self.tcpTimeout = tcpTimeout
        self.preparedStatements = preparedStatements
    }

    /// Reads the settings once; a value that is not a duration throws, naming the setting.
    public init(environment: Environment) throws {
        let d = Self.defaults
        statementTimeout = try environment.checkedDuration("TALLY_DB_STATEMENT_TIMEOUT", default: d.statementTimeout)
        lockTimeout = try environment.checkedDuration("TALLY_DB_LOCK_TIMEOUT", default: d.lockTimeout)
        idleInTransactionTimeout = try environment.checkedDuration("TALLY_DB_IDLE_IN_TRANSACTION_TIMEOUT",
                                                                   default: d.idleInTransactionTimeout)
        tcpTimeout = try environment.checkedDuration("TALLY_DB_TCP_TIMEOUT", default: d.tcpTimeout)
        preparedStatements = try environment.checkedSwitch("TALLY_DB_PREPARED", default: d.preparedStatements)
    }

    /// The LISTEN connection's URL: `TALLY_LISTEN_DATABASE_URL` when set (a direct connection
    /// past the pooler: a pooler in transaction mode cannot hold a LISTEN, which is session
    /// state), else the database URL itself — unless sessions are pooled
    /// (`TALLY_DB_PREPARED=off`), where nil says "no LISTEN: poll".
    public func listenURL(databaseURL: String, environment: Environment) -> String? {
        if let direct = environment["TALLY_LISTEN_DATABASE_URL"], !direct.isEmpty { return direct }
        return preparedStatements ? databaseURL : nil
    }

    /// The server settings, by name, in milliseconds (0: off).
    var serverSettings: [(name: String, milliseconds: Int)] {
        [("statement_timeout", Self.milliseconds(statementTimeout)),
         ("lock_timeout", Self.milliseconds(lockTimeout)),
         ("idle_in_transaction_session_timeout", Self.milliseconds(idleInTransactionTimeout))]
    }

    /// A positive duration is at least 1 ms (0 would mean "off").
    static func milliseconds(_ seconds: TimeInterval) -> Int {
        guard seconds > 0 else { return 0 }
        return max(1, Int((min(seconds, 2_000_000) * 1000).rounded()))
    }

    // MARK: Connection parameters

    /// The libpq parameters to put *before* the connection string (which then overrides any of
    /// them it names): keepalives and `tcp_user_timeout`, sized so that a dead peer is noticed
    /// within `tcpTimeout` — idle a third of it, then 3 probes over the rest — and
    /// `tcp_user_timeout` (unacknowledged data) the whole of it. Keywords this libpq does not
    /// know (`tcp_user_timeout` before libpq 12) are left out, as are those whose environment
    /// variable is set.
    func keepaliveParameters() -> [(keyword: String, value: String)] {
        guard tcpTimeout > 0 else { return [] }
        let total = max(3, Int(tcpTimeout.rounded()))
        let idle = max(1, total / 3)
        let interval = max(1, (total - idle) / 3)
        let wanted = [("keepalives", "1"), ("keepalives_idle", String(idle)), ("keepalives_interval", String(interval)),
                      ("keepalives_count", "3"), ("tcp_user_timeout", String(Self.milliseconds(tcpTimeout)))]
        let known = Self.knownKeywords
        let environment = ProcessInfo.processInfo.environment
        return wanted.filter { keyword, _ in
            guard let envvar = known[keyword] else { return false }
            return envvar.isEmpty || environment[envvar] == nil
        }
    }

    /// The `options` value to put *after* the connection string: its own `options` (or
    /// `PGOPTIONS` when it has none) with `-c name=value` added for each limit it does not set.
    /// Nil when nothing is to be added (the connection string's `options` stands as it is).
    ///
    /// Startup `options` rather than a `SET` after connecting: they travel in the startup packet
    /// and belong to the client's connection. Behind PgBouncer in transaction pooling a `SET`
    /// lands on whichever server connection ran it — later transactions of this client run on
    /// others that never saw it, and other clients inherit it — whereas startup parameters are
    /// the pooler's business: it re-applies those it tracks (`track_extra_parameters`) on every
    /// server connection it lends this client, or refuses the connection saying so (then list
    /// `options` in `ignore_startup_parameters` and give the role the limits with `ALTER ROLE …
    /// SET`). They also cost no round trip and hold from the first statement.
    func startupOptions(existing: String?) -> String? {
        let given = Self.settingNames(inOptions: existing ?? "")
        let added = serverSettings.filter { !given.contains($0.name) }.map { "-c \($0.name)=\($0.milliseconds)" }
        guard !added.isEmpty else { return nil }
        return (added + [existing].compactMap { $0 }.filter { !$0.isEmpty }).joined(separator: " ")
    }

    /// The server settings an `options` string sets: `-c name=value`, `-cname=value` or
    /// `--name=value` (words split on unescaped spaces, as the server splits them).
    static func settingNames(inOptions options: String) -> Set<String> {
        var words: [String] = []
        var word = ""
        var escaped = false
        for ch in options {
            if escaped {
                word.append(ch)
                escaped = false
            } else if ch == "\\" {
                escaped = true
            } else if ch == " " || ch == "\t" || ch == "\n" {
                if !word.isEmpty { words.append(word) }
                word = ""
            } else {
                word.append(ch)
            }
        }
        if !word.isEmpty { words.append(word) }
        var names: Set<String> = []
        var i = 0
        while i < words.count {
            var assignment: Substring?
            if words[i] == "-c", i + 1 < words.count {
                assignment = words[i + 1][...]
                i += 1
            } else if words[i].hasPrefix("--") {
                assignment = words[i].dropFirst(2)
            } else if words[i].hasPrefix("-c") {
                assignment = words[i].dropFirst(2)
            }
            if let assignment, let eq = assignment.firstIndex(of: "=") {
                names.insert(assignment[..<eq].lowercased().replacingOccurrences(of: "-", with: "_"))
            }
            i += 1
        }
        return names
    }

    /// The keywords this libpq knows, each with its environment variable ("" when it has none).
    static let knownKeywords: [String: String] = {
        var out: [String: String] = [:]
        guard let defaults = PQconndefaults() else { return out }
        defer { PQconninfoFree(defaults) }
        var option = defaults
        while let keyword = option.pointee.keyword {
            out[String(cString: keyword)] = option.pointee.envvar.map { String(cString: $0) } ?? ""
            option += 1
        }
        return out
    }()

    /// The values a connection string (URL or key=value) sets, by keyword; nil when libpq
    /// cannot parse it (connecting then reports why).
    static func parameters(of conninfo: String) -> [String: String]? {
        var error: UnsafeMutablePointer<CChar>?
        guard let parsed = PQconninfoParse(conninfo, &error) else {
            if let error { PQfreemem(error) }
            return nil
        }
        defer { PQconninfoFree(parsed) }
        var out: [String: String] = [:]
        var option = parsed
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { out[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        return out
    }
}
