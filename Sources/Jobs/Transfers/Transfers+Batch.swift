import Foundation
import Postgres
import Support

/// Transfers made many at a time: a batch of `transfer.create` jobs in one transaction and one
/// ledger book (`BatchJob`); one job is a batch of one, so both take the same path. The batch
/// locks every sender and recipient in one statement (user_id order: the lock order), their
/// transfers in a second, decides in memory, and writes the entries, the recipients' grants,
/// the transfers and their notifications in a few statements whatever its size.
extension Transfers {
    /// What one `transfer.create` asks (its args, checked).
    public struct Request: Sendable {
        public let id: String
        public let from: String
        public let to: String
        public let credits: Int64
        /// Seconds in escrow; nil: at once.
        public let escrowFor: Int64?
        public let memo: String?

        public init(id: String, from: String, to: String, credits: Int64, escrowFor: Int64?, memo: String?) {
            self.id = id
            self.from = from
            self.to = to
            self.credits = credits
            self.escrowFor = escrowFor
            self.memo = memo
        }

        var reference: String { "transfer:\(id):\(escrowFor != nil ? "escrow" : "out")" }
    }

    /// `transfer.create` for each request, in their order: the credits move at once, or into
    /// escrow. Answer: the transfer and the sender's balance, or a refusal
    /// (`insufficient_credits`, `account_not_found` naming which side); a transfer that exists
    /// already (a replay, or the same one earlier in the batch) answers as it is. With
    /// `mayDefer`, transfers with an account another transaction holds are `.deferred`.
    /// `promotional`: trial, reward, streak and referral credits may go too.
    public static func create(_ requests: [Request], promotional: Bool, mayDefer: Bool, on tx: Connection) throws -> [LedgerAnswer] {
        for r in requests where r.from == r.to { throw LedgerError.invalid("a transfer needs two users; both are \(r.from)") }
        let book = LedgerBook(tx)
        let busy = try book.load(requests.flatMap { [$0.from, $0.to] }, skipLocked: mayDefer)
        let live = requests.filter { !busy.contains($0.from) && !busy.contains($0.to) && book.hasAccount($0.from) && book.hasAccount($0.to) }
        var records = try lock(live.map(\.id), on: tx)
        // The entries' references, and the recipient's first grant's (one piece of each expiry:
        // `in:0` is the only one unless the sender's credits expire at different times).
        try book.prefetch(references: live.map(\.reference) + live.map { "transfer:\($0.id):in:0" })
        // Usually one grant for the recipient of each immediate transfer: their ids in one query.
        try book.reserveGrantIDs(live.filter { $0.escrowFor == nil }.count)

        var answers = [LedgerAnswer?](repeating: nil, count: requests.count)
        var made: [(index: Int, request: Request, pieces: [LedgerBook.TransferPiece], balance: Int64)] = []
        var madeIDs: Set<String> = []
        var repeats: [Int] = []
        for (i, r) in requests.enumerated() {
            if busy.contains(r.from) || busy.contains(r.to) { answers[i] = .deferred; continue }
            if let (side, user) = [("from_user_id", r.from), ("to_user_id", r.to)].first(where: { !book.hasAccount($0.1) }) {
                answers[i] = .result(LedgerRefusal.accountNotFound.result(["transfer_id": .string(r.id), "side": .string(side), "user_id": .string(user)]))
                continue
            }
            if let existing = records[r.id] { answers[i] = .result(try answer(existing, balance: book.balance(of: r.from))); continue }
            if madeIDs.contains(r.id) { repeats.append(i); continue }
            let escrow = r.escrowFor != nil
            let payload: [String: JSON] = ["transfer_id": .string(r.id), "from_user_id": .string(r.from), "to_user_id": .string(r.to)]
            switch try book.transferOut(userID: r.from, amount: r.credits, promotional: promotional, reference: r.reference,
                                        kind: escrow ? "transfer.escrow" : "transfer.out",
                                        metadata: ["transfer_id": .string(r.id), "to_user_id": .string(r.to)], payload: payload) {
            case .applied(_, let pieces):
                if !escrow { try deliver(id: r.id, to: r.to, from: r.from, pieces: pieces, in: book) }
                made.append((i, r, pieces, try book.balance(of: r.from)))
                madeIDs.insert(r.id)
            case .insufficient(let balance, let required):
                answers[i] = .result(LedgerRefusal.insufficientCredits.result(["transfer_id": .string(r.id), "balance": .int(balance),
                                                                               "required": .int(required)]))
            case .duplicate:
                throw LedgerError.invalid("transfer \(r.id)'s entry exists without its row")
            }
        }
        // The transfers' rows and their notifications before the book's commit, so every
        // notification of the batch is one statement (the entries' first, then these).
        if !made.isEmpty {
            let allocations = made.map { m in
                JSON.array(m.pieces.map { [.int($0.grantID), .int($0.amount), .optional($0.expiresAt.map(Timestamp.iso8601))] }).serialized
            }
            var stored: [Record] = []
            for row in try tx.query(TransferQueries.insertMany, [made.map(\.request.id), made.map(\.request.from), made.map(\.request.to),
                                                                made.map(\.request.credits), made.map { $0.request.escrowFor != nil },
                                                                made.map(\.request.memo), allocations, made.map(\.request.escrowFor)]) {
                let record = try Record(row: row)
                records[record.id] = record
                stored.append(record)
            }
            book.notify(updates(stored))
            for m in made {
                answers[m.index] = .result(try answer(try records[m.request.id].orThrow("transfer \(m.request.id) was not stored"), balance: m.balance))
            }
        }
        try book.commit()
        for i in repeats {
            let r = requests[i]
            answers[i] = .result(try answer(try records[r.id].orThrow("transfer \(r.id) was not stored"), balance: book.balance(of: r.from)))
        }
        return try answers.map { try $0.orThrow("a transfer request was left unanswered") }
    }

    /// Locks these transfers (after both their accounts: the lock order), in id order.
    private static func lock(_ ids: [String], on tx: Connection) throws -> [String: Record] {
        guard !ids.isEmpty else { return [:] }
        var out: [String: Record] = [:]
        for row in try tx.query(TransferQueries.lockMany, [Array(Set(ids)).sorted()]) {
            let record = try Record(row: row)
            out[record.id] = record
        }
        return out
    }
}
