import Foundation
import Postgres
import Support

/// Operators and their sessions (sql/0022). Tokens and session ids are 32 random bytes, stored
/// only as their SHA-256, as the API keys are (`APIKey`: a fast hash is as strong as a slow
/// one for 256 random bits, and it can be looked up by an index).
public enum Operators {
    public static let tokenPrefix = "tallyop_"

    /// Why `name` cannot name an operator, or nil (the table's CHECK, said first).
    public static func problem(name: String) -> String? {
        let ok = name.utf8.count <= 64 && name.first.map { $0.isASCII && ($0.isLetter || $0.isNumber) } == true
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_.@-".unicodeScalars.contains($0)) }
        return ok ? nil : "an operator name is 1 to 64 letters, digits and _ . @ -, starting with a letter or digit"
    }

    /// Creates an operator; returns its id and the token, which exists nowhere else afterwards.
    public static func create(name: String, on connection: Connection) throws -> (id: Int64, token: String) {
        let token = tokenPrefix + Crypto.randomHex(32)
        guard let row = try connection.query(OperatorQueries.create, [name, Crypto.sha256Hex(token), String(token.prefix(tokenPrefix.count + 8))]).first else {
            throw PostgresError(kind: .decoding, message: "the operator was not stored")
        }
        return (try row.int64("id"), token)
    }

    public static func list(on connection: Connection) throws -> [OperatorInfo] {
        try connection.query(OperatorQueries.list).map { row in
            OperatorInfo(id: try row.int64("id"), name: try row.string("name"), tokenPrefix: try row.string("token_prefix"),
                         createdAt: try row.date("created_at"), lastSignInAt: try row.optDate("last_sign_in_at"),
                         revokedAt: try row.optDate("revoked_at"), sessions: try row.int64("sessions"))
        }
    }

    /// Revokes the live operator `name` and ends their sessions; nil when there is none.
    public static func revoke(name: String, on connection: Connection) throws -> (id: Int64, sessions: Int64)? {
        try connection.query(OperatorQueries.revoke, [name]).first.map { (try $0.int64("id"), try $0.int64("sessions")) }
    }

    /// Signs in with a token: a new session (its cookie value and the session), or nil for a
    /// token that is unknown or revoked.
    public static func signIn(token: String, ttl: TimeInterval, on connection: Connection) throws -> (cookie: String, session: OperatorSession)? {
        guard token.hasPrefix(tokenPrefix), token.utf8.count <= 128 else { return nil }
        guard let row = try connection.query(OperatorQueries.byToken, [Crypto.sha256Hex(token)]).first else { return nil }
        let id = try row.int64("id")
        let cookie = Crypto.randomHex(32), csrf = Crypto.randomHex(32)
        try connection.query(OperatorQueries.startSession, [Crypto.sha256Hex(cookie), id, csrf, Int64(ttl)])
        return (cookie, OperatorSession(operatorID: id, name: try row.string("name"), csrfToken: csrf))
    }

    /// The live session a cookie value names, or nil.
    public static func session(cookie: String, on connection: Connection) throws -> OperatorSession? {
        guard cookie.utf8.count == 64 else { return nil }
        return try connection.query(OperatorQueries.session, [Crypto.sha256Hex(cookie)]).first.map { row in
            OperatorSession(operatorID: try row.int64("id"), name: try row.string("name"), csrfToken: try row.string("csrf_token"))
        }
    }

    public static func signOut(cookie: String, on connection: Connection) throws {
        try connection.query(OperatorQueries.endSession, [Crypto.sha256Hex(cookie)])
    }
}
