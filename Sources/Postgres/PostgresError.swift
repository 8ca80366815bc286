/// An error from PostgreSQL or from talking to it, with the SQLSTATE when the server sent one.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Could not connect, or the connection broke: the database may be down. Retry later.
        case connection
        /// The server refused the statement (constraint, syntax, serialization, ...).
        case server
        /// A value in a row did not have the type the code asked for.
        case decoding
        /// The caller used the API wrongly (bad parameter, wrong state).
        case usage
    }

    public let kind: Kind
    public let sqlState: String?
    public let message: String
    public let detail: String?
    public let constraint: String?

    public init(kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil, constraint: String? = nil) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.constraint = constraint
    }

    public var description: String {
        var s = message
        if let sqlState { s += " (SQLSTATE \(sqlState))" }
        if let detail, !detail.isEmpty { s += ": \(detail)" }
        return s
    }

    public var isUniqueViolation: Bool { sqlState == "23505" }
    public var isSerializationFailure: Bool { sqlState == "40001" || sqlState == "40P01" }
    /// A lock was not granted in time (`lock_timeout`, or `NOWAIT`): the statement failed and
    /// its transaction is aborted, because of what another session holds, not of what it asked.
    public var isLockTimeout: Bool { sqlState == "55P03" }
    /// The server refused the values themselves (class 22, data exception: a `\\u0000` in
    /// jsonb, a number out of range; class 23, a constraint; class 54, a limit such as a jsonb
    /// too large): sending the same row again fails again, while its neighbours in a batch
    /// would succeed alone.
    public var isRefusedData: Bool {
        guard let sqlState else { return false }
        return sqlState.hasPrefix("22") || sqlState.hasPrefix("23") || sqlState.hasPrefix("54")
    }
    /// The connection is gone or the server is shutting down / not accepting connections:
    /// the request can be retried once PostgreSQL is back.
    public var isUnavailable: Bool {
        if kind == .connection { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") || sqlState == "53300"
    }
}
