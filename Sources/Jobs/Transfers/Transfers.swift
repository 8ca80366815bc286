import Foundation
import Postgres
import Support

/// Transfers between users, immediate or in escrow (DESIGN.md, "Transfers between users";
/// sql/0018 says how the ledger records them). Both accounts are locked together, in user_id
/// order (`LedgerBook.load`), then the transfer's row: A→B and B→A at once never deadlock.
public enum Transfers {
    public static let defaultEscrowExpiry: Int64 = 7 * 86_400
    public static let maxEscrowExpiry: Int64 = 90 * 86_400

    /// One transfer as its row says.
    public struct Record: Sendable, Equatable {
        public enum Status: String, Sendable { case completed, escrowed, released, refunded }
        public let id: String
        public let fromUserID: String
        public let toUserID: String
        public let credits: Int64
        public let status: Status
        public let escrow: Bool
        public let memo: String?
        public let pieces: [LedgerBook.TransferPiece]
        public let expiresAt: Date?
        public let createdAt: Date
        public let endedAt: Date?

        init(row: Row) throws {
            id = try row.string("id")
            fromUserID = try row.string("from_user_id")
            toUserID = try row.string("to_user_id")
            credits = try row.int64("credits")
            status = try Status(rawValue: row.string("status")).orThrow("unknown transfer status")
            escrow = try row.bool("escrow")
            memo = try row.optString("memo")
            pieces = try (row.json("allocations").array ?? []).map { p in
                guard let g = p[0]?.int64, let a = p[1]?.int64 else { throw LedgerError.invalid("a transfer's allocations are malformed") }
                return LedgerBook.TransferPiece(grantID: g, amount: a, expiresAt: p[2]?.string.flatMap(Timestamp.parse))
            }
            expiresAt = try row.optDate("expires_at")
            createdAt = try row.date("created_at")
            endedAt = try row.optDate("ended_at")
        }

        /// `GET /v1/transfers/{id}`.
        public var json: JSON {
            ["transfer_id": .string(id), "from_user_id": .string(fromUserID), "to_user_id": .string(toUserID), "credits": .int(credits),
             "status": .string(status.rawValue), "escrow": .bool(escrow), "memo": .optional(memo),
             "expires_at": .optional(expiresAt.map(Timestamp.iso8601)), "created_at": .string(Timestamp.iso8601(createdAt)),
             "ended_at": .optional(endedAt.map(Timestamp.iso8601))]
        }
    }

    /// The transfer's id for the sender's idempotency key (a replay names the same transfer).
    public static func id(fromUserID: String, idempotencyKey: String) -> String {
        PrefixedID.make(prefix: "transfer_", name: "transfer:\(fromUserID):\(idempotencyKey)")
    }

    /// The newest transfers, of `user` (either side) and in `status` when given.
    public static func list(user: String?, status: String?, limit: Int, on c: Connection) throws -> [Record] {
        try c.query(TransferQueries.list, [user, status, limit]).map(Record.init(row:))
    }

    public static func read(_ id: String, on c: Connection) throws -> Record? {
        try c.query(TransferQueries.byID, [id]).first.map(Record.init(row:))
    }

    /// `transfer.create` of one transfer (`create(_:promotional:mayDefer:on:)`, a batch of one).
    public static func create(id: String, from: String, to: String, credits: Int64, escrowFor: Int64?, memo: String?,
                              promotional: Bool, on tx: Connection) throws -> JSON {
        try create([Request(id: id, from: from, to: to, credits: credits, escrowFor: escrowFor, memo: memo)],
                   promotional: promotional, mayDefer: false, on: tx)[0].json()
    }

    /// `transfer.release` (the recipient gets the escrowed credits) or `transfer.refund` / the
    /// escrow's expiry (the sender gets them back, to the grants they came from). A transfer not
    /// in escrow answers as it is.
    public static func end(id: String, release: Bool, on tx: Connection) throws -> JSON {
        guard let unlocked = try read(id, on: tx) else { return LedgerRefusal.transferNotFound.result(["transfer_id": .string(id)]) }
        let book = LedgerBook(tx)
        try book.load([unlocked.fromUserID, unlocked.toUserID])
        guard let t = try tx.query(TransferQueries.lock, [id]).first.map(Record.init(row:)) else {
            return LedgerRefusal.transferNotFound.result(["transfer_id": .string(id)])
        }
        guard t.status == .escrowed else { return try answer(t, balance: book.balance(of: t.fromUserID)) }
        if release {
            try deliver(id: t.id, to: t.toUserID, from: t.fromUserID, pieces: t.pieces, in: book)
        } else {
            _ = try book.restore(userID: t.fromUserID, to: t.pieces.map { ($0.grantID, $0.amount) }, reference: "transfer:\(t.id):refund",
                                 kind: "transfer.refund", metadata: ["transfer_id": .string(t.id)], notification: .balanceUpdate,
                                 payload: ["transfer_id": .string(t.id)])
        }
        let balance = try book.balance(of: t.fromUserID)
        guard let row = try tx.query(TransferQueries.end, [t.id, release ? "released" : "refunded"]).first else {
            throw LedgerError.invalid("transfer \(t.id) did not end")
        }
        let record = try Record(row: row)
        book.notify(updates([record]))
        try book.commit()
        return try answer(record, balance: balance)
    }

    /// Refunds up to `limit` escrows past their expiry; returns how many.
    public static func expireDue(limit: Int, on tx: Connection) throws -> Int {
        let due = try tx.query(TransferQueries.due, [limit]).map { try $0.string("id") }
        var n = 0
        for id in due where try end(id: id, release: false, on: tx)["status"] == "refunded" { n += 1 }
        return n
    }

    /// The recipient's side: one `transfer` grant per expiry of what was taken.
    static func deliver(id: String, to: String, from: String, pieces: [LedgerBook.TransferPiece], in book: LedgerBook) throws {
        var byExpiry: [(Date?, Int64)] = []
        for p in pieces {
            if let i = byExpiry.firstIndex(where: { $0.0 == p.expiresAt }) { byExpiry[i].1 += p.amount } else { byExpiry.append((p.expiresAt, p.amount)) }
        }
        for (k, part) in byExpiry.enumerated() {
            _ = try book.grant(NewGrant(userID: to, source: .transfer, amount: part.1, expiresAt: part.0, reference: "transfer:\(id):in:\(k)",
                                        kind: "transfer.in", metadata: ["transfer_id": .string(id), "from_user_id": .string(from)]))
        }
    }

    /// `transfer_update` to both sides of each (the entries write their `balance_update`s).
    static func updates(_ transfers: [Record]) -> [InboxItem] {
        transfers.flatMap { t in
            [InboxItem(userID: t.fromUserID, type: .transferUpdate, payload: t.json), InboxItem(userID: t.toUserID, type: .transferUpdate, payload: t.json)]
        }
    }

    static func answer(_ t: Record, balance: Int64) throws -> JSON {
        guard case .object(var body) = t.json else { return t.json }
        body["balance"] = .int(balance)
        return .object(body)
    }
}
