import Foundation
import Postgres
import Support

/// The audit log (sql/0014): one row per operator action, written in the action's own
/// transaction when it has one, so an action and its record commit together or not at all.
/// Written by the `tally` commands and the console; read by `tally audit list`.
public enum Audit {
    /// One operator action.
    public struct Entry: Sendable, Equatable {
        public let id: Int64
        public let at: Date
        public let actor: String
        public let action: String
        public let target: String?
        public let reason: String?
        public let details: JSON

        public var json: JSON {
            ["id": .int(id), "at": .string(Timestamp.iso8601(at)), "actor": .string(actor), "action": .string(action),
             "target": .optional(target), "reason": .optional(reason), "details": details]
        }
    }

    /// Why an actor or reason cannot be recorded, or nil (the table's CHECKs, said first).
    public static func problem(actor: String, reason: String?) -> String? {
        if actor.isEmpty || actor.utf8.count > 256 { return "the actor must be 1 to 256 bytes" }
        if let reason, reason.utf8.count > 1024 { return "the reason must be at most 1024 bytes" }
        return nil
    }

    /// Records `action` by `actor` on `target`.
    public static func record(actor: String, action: String, target: String? = nil, reason: String? = nil,
                              details: JSON = [:], on connection: Connection) throws {
        // A long list of job ids is cut (250 characters are at most 1,000 bytes); details keep all.
        let target = target.map { $0.utf8.count > 1024 ? String($0.prefix(250)) + "…" : $0 }
        try connection.query(AuditQueries.insert, [actor, action, target, reason, details.serialized])
    }

    /// The newest entries first, at most `limit`, since `since` and by `actor` when given.
    public static func list(since: Date?, actor: String?, limit: Int, on connection: Connection) throws -> [Entry] {
        try connection.query(AuditQueries.list, [since, actor, limit]).map { row in
            Entry(id: try row.int64("id"), at: try row.date("at"), actor: try row.string("actor"), action: try row.string("action"),
                  target: try row.optString("target"), reason: try row.optString("reason"), details: try row.json("details"))
        }
    }
}

/// The audit log's statements.
enum AuditQueries {
    static let insert = Query("tally_audit_insert", """
        INSERT INTO audit_log (actor, action, target, reason, details) VALUES ($1, $2, $3, $4, $5::jsonb)
        """)

    static let list = Query("tally_audit_list", """
        SELECT id, at, actor, action, target, reason, details FROM audit_log
        WHERE ($1::timestamptz IS NULL OR at >= $1::timestamptz) AND ($2::text IS NULL OR actor = $2)
        ORDER BY id DESC LIMIT $3::int
        """)
}
