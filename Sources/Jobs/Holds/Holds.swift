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

    /// `hold.create`: reserves the credits (one `hold` entry, from the grants in consumption
    /// order) and records the hold. Result: the hold's JSON and `balance`, or a refusal
    /// (`insufficient_credits`, `account_not_found`, `unknown_agent`, `invalid_units`). A hold
    /// that exists already (a replayed job) answers as it is.
    public static func create(id: String, userID: String, amount: Amount, expiresIn: Int64, on tx: Connection) throws -> JSON {
        let book = LedgerBook(tx)
        try book.load([userID])
        guard book.hasAccount(userID) else { return LedgerRefusal.accountNotFound.result(["hold_id": .string(id)]) }
        if let existing = try tx.query(HoldQueries.lock, [id]).first.map(Hold.init(row:)) {
            return try answer(existing, balance: book.balance(of: userID))
        }
        let credits: Int64
        var agent: String?
        switch amount {
        case .credits(let n):
            credits = n
        case .units(let name, let units):
            guard let price = try tx.query(LedgerQueries.agentPrices, [[name]]).first?.int64("credits_per_unit") else {
                return LedgerRefusal.unknownAgent.result(["hold_id": .string(id)])
            }
            let (cost, overflow) = units.multipliedReportingOverflow(by: price)
            guard !overflow, cost <= Ledger.maxCredits else {
                return LedgerRefusal.invalidUnits.result(["units": .int(units), "credits_per_unit": .int(price),
                                                          "max_units": .int(price > 0 ? Ledger.maxCredits / price : Ledger.maxCredits)])
            }
            credits = cost
            agent = name
        }
        guard credits > 0 else { throw LedgerError.invalid("a hold needs a positive amount of credits, got \(credits)") }
        let reference = "hold:\(id)"
        let debit = Debit(userID: userID, amount: credits, reference: reference, kind: "hold",
                          metadata: ["hold_id": .string(id)], notification: .holdUpdate)
        switch try book.debit(debit) {
        case .applied: break
        case .insufficient(let balance, let required):
            return LedgerRefusal.insufficientCredits.result(["hold_id": .string(id), "balance": .int(balance), "required": .int(required)])
        case .accountNotFound:
            return LedgerRefusal.accountNotFound.result(["hold_id": .string(id)])
        case .duplicate:
            throw LedgerError.invalid("hold \(id)'s entry exists without its row")
        }
        let taken = (book.pendingAllocations(reference) ?? []).map { (grantID: $0.grantID, amount: -$0.amount) }
        let balance = try book.balance(of: userID)
        let entries = try book.commit()
        guard let entry = entries.first(where: { $0.reference == reference }) else { throw LedgerError.invalid("hold \(id) wrote no entry") }
        let allocations = JSON.array(taken.map { [.int($0.grantID), .int($0.amount)] })
        guard let row = try tx.query(HoldQueries.insert, [id, userID, credits, agent, allocations.serialized, entry.id,
                                                          min(max(expiresIn, 1), maxExpiry)]).first else {
            throw LedgerError.invalid("hold \(id) was not stored")
        }
        return try answer(Hold(row: row), balance: balance)
    }

    /// `hold.capture`: charges `amount` (nil: all it holds) of what the hold reserved and gives
    /// the rest back, at once. A hold already ended answers as it is (never charges twice); one
    /// past its expiry is expired here first. More than held: `capture_exceeds_hold`.
    public static func capture(id: String, amount: Amount?, on tx: Connection) throws -> JSON {
        try end(id, on: tx) { hold, tx in
            switch amount {
            case nil: return .success(hold.reserved)
            case .credits(let n)?: return .success(n)
            case .units(_, let units)?:
                guard let agent = hold.agent,
                      let price = try tx.query(LedgerQueries.agentPrices, [[agent]]).first?.int64("credits_per_unit") else {
                    return .failure(RefusalResult(json: LedgerRefusal.unknownAgent.result(["hold_id": .string(hold.id)])))
                }
                let (cost, overflow) = units.multipliedReportingOverflow(by: price)
                return .success(overflow ? Int64.max : cost)
            }
        }
    }

    /// `hold.void`: gives everything back. A hold already ended answers as it is.
    public static func void(id: String, on tx: Connection) throws -> JSON {
        try end(id, on: tx) { _, _ in .success(0) }
    }

    /// `holds.expire`: ends up to `limit` holds past their expiry, their users locked in order.
    /// Returns how many it expired.
    public static func expireDue(limit: Int, on tx: Connection) throws -> Int {
        let due = try tx.query(HoldQueries.due, [limit]).map { (id: try $0.string("id"), user: try $0.string("user_id")) }
        guard !due.isEmpty else { return 0 }
        let book = LedgerBook(tx)
        try book.load(due.map(\.user))
        var expired: [String] = []
        for d in due {
            guard let hold = try tx.query(HoldQueries.lock, [d.id]).first.map(Hold.init(row:)), hold.status == .held,
                  hold.expiresAt <= book.now else { continue }
            try release(hold, in: book)
            expired.append(hold.id)
        }
        try book.commit()
        for id in expired { try tx.query(HoldQueries.end, [id, Hold.Status.expired.rawValue, Int64(0)]) }
        return expired.count
    }

    /// The common end of a hold: lock it (after its account), give its credits back, take the
    /// capture (from `charge`; 0: a void) from the same grants, record its end.
    private static func end(_ id: String, on tx: Connection,
                            charge: (Hold, Connection) throws -> Result<Int64, RefusalResult>) throws -> JSON {
        guard let unlocked = try Hold.read(id, on: tx) else { return LedgerRefusal.holdNotFound.result(["hold_id": .string(id)]) }
        let book = LedgerBook(tx)
        try book.load([unlocked.userID])
        guard let hold = try tx.query(HoldQueries.lock, [id]).first.map(Hold.init(row:)) else {
            return LedgerRefusal.holdNotFound.result(["hold_id": .string(id)])
        }
        guard hold.status == .held else { return try answer(hold, balance: book.balance(of: hold.userID)) }
        var status = Hold.Status.captured
        var captured: Int64 = 0
        if hold.expiresAt <= book.now {
            status = .expired
        } else {
            switch try charge(hold, tx) {
            case .failure(let refusal): return refusal.json
            case .success(let credits):
                guard credits <= hold.reserved else {
                    return LedgerRefusal.captureExceedsHold.result(["hold_id": .string(id), "held": .int(hold.reserved)])
                }
                guard credits >= 0 else { throw LedgerError.invalid("a capture needs 0 or more credits, got \(credits)") }
                captured = credits
                if credits == 0 { status = .voided }
            }
        }
        try release(hold, in: book)
        if captured > 0 {
            _ = try book.take(userID: hold.userID, amount: captured, from: hold.allocations, reference: "hold.capture:\(hold.id)",
                              kind: "hold.capture", metadata: ["hold_id": .string(hold.id)], notification: .holdUpdate,
                              payload: ["hold_id": .string(hold.id), "status": .string(status.rawValue)])
        }
        let balance = try book.balance(of: hold.userID)
        try book.commit()
        guard let row = try tx.query(HoldQueries.end, [hold.id, status.rawValue, captured]).first else {
            throw LedgerError.invalid("hold \(hold.id) did not end")
        }
        return try answer(Hold(row: row), balance: balance)
    }

    /// The `hold.release` entry: every reserved credit back to the grant it came from.
    private static func release(_ hold: Hold, in book: LedgerBook) throws {
        _ = try book.restore(userID: hold.userID, to: hold.allocations, reference: "hold.release:\(hold.id)", kind: "hold.release",
                             metadata: ["hold_id": .string(hold.id)], notification: .holdUpdate,
                             payload: ["hold_id": .string(hold.id)])
    }

    /// A refusal as a job result.
    struct RefusalResult: Error {
        let json: JSON
    }

    static func answer(_ hold: Hold, balance: Int64) throws -> JSON {
        guard case .object(var body) = hold.json else { return hold.json }
        body["balance"] = .int(balance)
        return .object(body)
    }
}
