import Foundation
import Postgres
import Support

/// Reading a user's inbox: the list endpoint (newest first), polling by `seq`, and what the
/// stream reads (DESIGN.md, "Real time for app front ends").
extension Inbox {
    /// A user's notifications for GET /v1/accounts/{user_id}/notifications, newest first:
    /// `{"notifications": [{id, seq, type, payload, created_at, read_at}]}`, or nil when the user
    /// has no account (404, like the other account reads). At most `limit` (clamped to 1…500, as
    /// the ledger's), with ids below `before` when given (the next page: the last id shown).
    /// With `after` (a `seq`), those after it instead, oldest first: polling without a gap.
    public static func list(userID: String, limit: Int = 50, before: Int64? = nil, after: Int64? = nil, on c: Connection) throws -> JSON? {
        let n = min(max(limit, 1), 500)
        let rows = try after.map { try c.query(NotifyQueries.inboxAfter, [userID, n, $0]) }
            ?? c.query(NotifyQueries.inbox, [userID, n, before])
        guard !rows.isEmpty else { return nil }
        var items: [JSON] = []
        for row in rows {
            guard let id = try row.optInt64("id") else { continue }
            items.append(["id": .int(id), "seq": .int(try row.int64("seq")), "type": .string(try row.string("type")),
                          "payload": try row.json("payload"), "created_at": .string(Timestamp.iso8601(try row.date("created_at"))),
                          "read_at": .optional(try row.optDate("read_at").map(Timestamp.iso8601))])
        }
        return ["notifications": .array(items)]
    }

    /// One notification as the stream sends it.
    public struct StreamEvent: Sendable, Equatable {
        public let userID: String
        public let id: Int64
        public let seq: Int64
        public let type: String
        public let payload: JSON
        public let createdAt: Date

        /// `{id, seq, type, user_id, created_at, payload}`.
        public var json: JSON {
            ["id": .int(id), "seq": .int(seq), "type": .string(type), "user_id": .string(userID),
             "created_at": .string(Timestamp.iso8601(createdAt)), "payload": payload]
        }
    }

    /// Each user's notifications after their `seq`, at most `limit` each, in seq order, in one
    /// query (the stream's fan-out and replay).
    public static func events(after: [String: Int64], limit: Int, on c: Connection) throws -> [String: [StreamEvent]] {
        guard !after.isEmpty else { return [:] }
        let users = Array(after.keys)
        let rows = try c.query(NotifyQueries.streamBatch, [users, users.map { after[$0] ?? 0 }, limit])
        var out: [String: [StreamEvent]] = [:]
        for row in rows {
            let event = StreamEvent(userID: try row.string("user_id"), id: try row.int64("id"), seq: try row.int64("seq"),
                                    type: try row.string("type"), payload: try row.json("payload"), createdAt: try row.date("created_at"))
            out[event.userID, default: []].append(event)
        }
        return out
    }

    /// The start of a stream.
    public struct Snapshot: Sendable, Equatable {
        public let userID: String
        public let balance: Int64
        public let debt: Int64
        public let held: Int64
        /// The user's last `seq`: the balance is as of it.
        public let seq: Int64
        /// The oldest `seq` the inbox still holds (nil: none); a resume from before it has lost
        /// events to pruning and gets `reset`.
        public let oldestSeq: Int64?

        /// `{user_id, balance, debt, held, seq}`.
        public var json: JSON {
            ["user_id": .string(userID), "balance": .int(balance), "debt": .int(debt), "held": .int(held), "seq": .int(seq)]
        }
    }

    /// The user's snapshot, or nil when the user has no account.
    public static func snapshot(userID: String, on c: Connection) throws -> Snapshot? {
        guard let row = try c.query(NotifyQueries.streamSnapshot, [userID]).first else { return nil }
        let debt = try row.int64("debt")
        return Snapshot(userID: userID, balance: try row.int64("spendable") - debt, debt: debt, held: try row.int64("held"), seq: try row.int64("seq"),
                        oldestSeq: try row.optInt64("oldest_seq"))
    }
}
