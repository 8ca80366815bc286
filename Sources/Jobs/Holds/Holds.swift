import Foundation
import Postgres
import Support

/// Holds: reserve credits for work of unknown cost, then capture what it cost or void it
/// (DESIGN.md, "Holds"; sql/0017 says how the ledger records them). Each operation runs in the
/// caller's transaction and locks in the one order (docs/ledger.md, "Lock order"): the user's
/// account (`LedgerBook.load`), then the hold's row. So a capture racing a void or the expiry
/// waits for the other and then finds the hold ended: every hold ends once.
public enum Holds {
    public static let defaultExpiry: Int64 = 900
    public static let maxExpiry: Int64 = 86_400

    /// What to reserve: credits, or units of an agent at its price.
    public enum Amount: Sendable, Equatable {
        case credits(Int64)
        case units(agent: String, units: Int64)
    }

    /// `hold.create` of one hold (`create(_:mayDefer:on:)`, a batch of one).
    public static func create(id: String, userID: String, amount: Amount, expiresIn: Int64, on tx: Connection) throws -> JSON {
        try create([Reservation(id: id, userID: userID, amount: amount, expiresIn: expiresIn)], mayDefer: false, on: tx)[0].json()
    }

    /// `hold.capture` of one hold: `amount` nil captures all it holds.
    public static func capture(id: String, amount: Amount?, on tx: Connection) throws -> JSON {
        try end([Ending(id: id, amount: amount)], mayDefer: false, on: tx)[0].json()
    }

    /// `hold.void`: gives everything back. A hold already ended answers as it is.
    public static func void(id: String, on tx: Connection) throws -> JSON {
        try end([.void(id)], mayDefer: false, on: tx)[0].json()
    }

    /// `holds.expire`: ends up to `limit` holds past their expiry, their users locked in order.
    /// Returns how many it expired.
    public static func expireDue(limit: Int, on tx: Connection) throws -> Int {
        let due = try tx.query(HoldQueries.due, [limit]).map { (id: try $0.string("id"), user: try $0.string("user_id")) }
        guard !due.isEmpty else { return 0 }
        let book = LedgerBook(tx)
        try book.load(due.map(\.user))
        let holds = try lock(due.map(\.id), on: tx)
        var expired: [String] = []
        for d in due {
            guard let hold = holds[d.id], hold.status == .held, hold.expiresAt <= book.now else { continue }
            try release(hold, in: book)
            expired.append(hold.id)
        }
        try book.commit()
        if !expired.isEmpty {
            try tx.query(HoldQueries.endMany, [expired, expired.map { _ in Hold.Status.expired.rawValue }, expired.map { _ in Int64(0) }])
        }
        return expired.count
    }

    /// The `hold.release` entry: every reserved credit back to the grant it came from.
    static func release(_ hold: Hold, in book: LedgerBook) throws {
        _ = try book.restore(userID: hold.userID, to: hold.allocations, reference: "hold.release:\(hold.id)", kind: "hold.release",
                             metadata: ["hold_id": .string(hold.id)], notification: .holdUpdate,
                             payload: ["hold_id": .string(hold.id)])
    }

    static func answer(_ hold: Hold, balance: Int64) throws -> JSON {
        guard case .object(var body) = hold.json else { return hold.json }
        body["balance"] = .int(balance)
        return .object(body)
    }
}
