import Foundation
import Postgres
import Support

/// One hold as its row says (`holds`, sql/0017).
public struct Hold: Sendable, Equatable {
    public enum Status: String, Sendable {
        case held, captured, voided, expired
    }

    public let id: String
    public let userID: String
    public let status: Status
    public let reserved: Int64
    public let captured: Int64
    public let agent: String?
    /// The grants the reservation took from, in order (positive credits).
    public let allocations: [(grantID: Int64, amount: Int64)]
    public let expiresAt: Date
    public let createdAt: Date
    public let endedAt: Date?

    public static func == (a: Hold, b: Hold) -> Bool {
        a.id == b.id && a.status == b.status && a.reserved == b.reserved && a.captured == b.captured && a.endedAt == b.endedAt
    }

    init(row: Row) throws {
        id = try row.string("id")
        userID = try row.string("user_id")
        status = try Status(rawValue: row.string("status")).orThrow("unknown hold status")
        reserved = try row.int64("reserved")
        captured = try row.int64("captured")
        agent = try row.optString("agent")
        allocations = try (row.json("allocations").array ?? []).map { pair in
            guard let g = pair[0]?.int64, let a = pair[1]?.int64 else { throw LedgerError.invalid("a hold's allocations are malformed") }
            return (g, a)
        }
        expiresAt = try row.date("expires_at")
        createdAt = try row.date("created_at")
        endedAt = try row.optDate("ended_at")
    }

    /// Credits it holds now: all it reserved while `held`, nothing once ended.
    public var held: Int64 { status == .held ? reserved : 0 }

    /// `GET /v1/holds/{id}`: `{hold_id, user_id, status, held, captured, expires_at}`.
    public var json: JSON {
        ["hold_id": .string(id), "user_id": .string(userID), "status": .string(status.rawValue), "held": .int(held),
         "captured": .int(captured), "reserved": .int(reserved), "expires_at": .string(Timestamp.iso8601(expiresAt)),
         "ended_at": .optional(endedAt.map(Timestamp.iso8601))]
    }

    /// The hold's id for a user's idempotency key: the same key names the same hold, so a
    /// replayed request enqueues the same args.
    public static func id(userID: String, idempotencyKey: String) -> String {
        PrefixedID.make(prefix: "hold_", name: "hold:\(userID):\(idempotencyKey)")
    }

    public static func read(_ id: String, on c: Connection) throws -> Hold? {
        try c.query(HoldQueries.byID, [id]).first.map(Hold.init(row:))
    }

    /// What the user's holds hold now.
    public static func heldTotal(userID: String, on c: Connection) throws -> Int64 {
        try c.query(HoldQueries.heldTotal, [userID]).first?.int64("held") ?? 0
    }
}
