import Foundation
import Postgres
import Support

/// Holds made and ended many at a time: a batch of `hold.create` or of `hold.capture` /
/// `hold.void` jobs in one transaction and one ledger book (`BatchJob`). One job is a batch of
/// one, so a job run alone and a job run in a batch take the same path.
///
/// Why: a hold and its capture are three ledger entries (the reservation, its release, the
/// charge) and two writes of the hold's row; one job per transaction paid a commit and a dozen
/// round trips for them. A batch locks its accounts in one statement, its holds in one,
/// decides everything in memory and writes in a few statements whatever its size.
extension Holds {
    /// What one `hold.create` asks.
    public struct Reservation: Sendable {
        public let id: String
        public let userID: String
        public let amount: Amount
        public let expiresIn: Int64

        public init(id: String, userID: String, amount: Amount, expiresIn: Int64) {
            self.id = id
            self.userID = userID
            self.amount = amount
            self.expiresIn = expiresIn
        }
    }

    /// What one `hold.capture` or `hold.void` asks: `amount` nil captures all the hold holds,
    /// `.credits(0)` is a void.
    public struct Ending: Sendable {
        public let id: String
        public let amount: Amount?

        public init(id: String, amount: Amount?) {
            self.id = id
            self.amount = amount
        }

        public static func void(_ id: String) -> Ending { Ending(id: id, amount: .credits(0)) }
    }

    /// `hold.create` for each reservation, in their order: each reserves its credits (one `hold`
    /// entry from the grants in consumption order) and records its hold; a hold that exists
    /// already (a replayed job, or the same hold earlier in the batch) answers as it is. With
    /// `mayDefer`, reservations on accounts another transaction holds are `.deferred`.
    public static func create(_ requests: [Reservation], mayDefer: Bool, on tx: Connection) throws -> [LedgerAnswer] {
        let book = LedgerBook(tx)
        let busy = try book.load(requests.map(\.userID), skipLocked: mayDefer)
        let live = requests.filter { !busy.contains($0.userID) && book.hasAccount($0.userID) }
        // The lock order: accounts, then their holds (already there only when replayed).
        var holds = try lock(live.map(\.id), on: tx)
        try book.prefetch(references: live.map { "hold:\($0.id)" })
        let prices = try agentPrices(live.compactMap { if case .units(let a, _) = $0.amount { a } else { nil } }, on: tx)

        var answers = [LedgerAnswer?](repeating: nil, count: requests.count)
        // Reservations made here: their rows are written after the book, which gives their entries.
        var made: [(index: Int, request: Reservation, credits: Int64, agent: String?, balance: Int64)] = []
        var madeIDs: Set<String> = []
        var repeats: [Int] = []
        for (i, r) in requests.enumerated() {
            if busy.contains(r.userID) { answers[i] = .deferred; continue }
            guard book.hasAccount(r.userID) else { answers[i] = .result(LedgerRefusal.accountNotFound.result(["hold_id": .string(r.id)])); continue }
            if let existing = holds[r.id] { answers[i] = .result(try answer(existing, balance: book.balance(of: r.userID))); continue }
            if madeIDs.contains(r.id) { repeats.append(i); continue }
            let credits: Int64
            var agent: String?
            switch r.amount {
            case .credits(let n):
                credits = n
            case .units(let name, let units):
                guard let price = prices[name] else { answers[i] = .result(LedgerRefusal.unknownAgent.result(["hold_id": .string(r.id)])); continue }
                let (cost, overflow) = units.multipliedReportingOverflow(by: price)
                guard !overflow, cost <= Ledger.maxCredits else {
                    answers[i] = .result(LedgerRefusal.invalidUnits.result(["units": .int(units), "credits_per_unit": .int(price),
                                                                            "max_units": .int(price > 0 ? Ledger.maxCredits / price : Ledger.maxCredits)]))
                    continue
                }
                credits = cost
                agent = name
            }
            guard credits > 0 else { answers[i] = .failed("a hold needs a positive amount of credits, got \(credits)"); continue }
            let debit = Debit(userID: r.userID, amount: credits, reference: "hold:\(r.id)", kind: "hold",
                              metadata: ["hold_id": .string(r.id)], notification: .holdUpdate)
            switch try book.debit(debit) {
            case .applied:
                made.append((i, r, credits, agent, try book.balance(of: r.userID)))
                madeIDs.insert(r.id)
            case .insufficient(let balance, let required):
                answers[i] = .result(LedgerRefusal.insufficientCredits.result(["hold_id": .string(r.id), "balance": .int(balance),
                                                                               "required": .int(required)]))
            case .accountNotFound:
                answers[i] = .result(LedgerRefusal.accountNotFound.result(["hold_id": .string(r.id)]))
            case .duplicate:
                throw LedgerError.invalid("hold \(r.id)'s entry exists without its row")
            }
        }
        let allocations = made.map { m in
            JSON.array((book.pendingAllocations("hold:\(m.request.id)") ?? []).map { [.int($0.grantID), .int(-$0.amount)] }).serialized
        }
        let entries = try book.commit()
        if !made.isEmpty {
            var entryOf: [String: Int64] = [:]
            for e in entries { entryOf[e.reference] = e.id }
            let entryIDs = try made.map { m in try entryOf["hold:\(m.request.id)"].orThrow("hold \(m.request.id) wrote no entry") }
            for row in try tx.query(HoldQueries.insertMany, [made.map(\.request.id), made.map(\.request.userID), made.map(\.credits),
                                                            made.map(\.agent), allocations, entryIDs,
                                                            made.map { min(max($0.request.expiresIn, 1), maxExpiry) }]) {
                let h = try Hold(row: row)
                holds[h.id] = h
            }
            for m in made {
                answers[m.index] = .result(try answer(try holds[m.request.id].orThrow("hold \(m.request.id) was not stored"), balance: m.balance))
            }
        }
        for i in repeats {
            let r = requests[i]
            answers[i] = .result(try answer(try holds[r.id].orThrow("hold \(r.id) was not stored"), balance: book.balance(of: r.userID)))
        }
        return try answers.map { try $0.orThrow("a hold request was left unanswered") }
    }

    /// `hold.capture` / `hold.void` for each ending, in their order: charges what it says (at
    /// most what is held) and gives the rest back, at once. A hold already ended (or ended
    /// earlier in the batch) answers as it is and never charges twice; one past its expiry is
    /// expired here first. More than held: `capture_exceeds_hold`.
    public static func end(_ requests: [Ending], mayDefer: Bool, on tx: Connection) throws -> [LedgerAnswer] {
        let ids = Array(Set(requests.map(\.id))).sorted()
        var owner: [String: String] = [:]
        for row in try tx.query(HoldQueries.usersOf, [ids]) { owner[try row.string("id")] = try row.string("user_id") }
        let book = LedgerBook(tx)
        let busy = try book.load(owner.values, skipLocked: mayDefer)
        var holds = try lock(ids.filter { owner[$0].map { !busy.contains($0) } ?? false }, on: tx)
        // Each ending writes a release and perhaps a charge: their references in one query.
        try book.prefetch(references: holds.keys.flatMap { ["hold.release:\($0)", "hold.capture:\($0)"] })
        let prices = try agentPrices(requests.compactMap { r in
            if case .units = r.amount { holds[r.id]?.agent } else { nil }
        }, on: tx)

        var answers = [LedgerAnswer?](repeating: nil, count: requests.count)
        var ended: [(id: String, status: Hold.Status, captured: Int64)] = []
        var endedIDs: Set<String> = []
        var waiting: [(index: Int, id: String, balance: Int64)] = []
        for (i, r) in requests.enumerated() {
            guard let user = owner[r.id] else { answers[i] = .result(LedgerRefusal.holdNotFound.result(["hold_id": .string(r.id)])); continue }
            if busy.contains(user) { answers[i] = .deferred; continue }
            guard let hold = holds[r.id] else { answers[i] = .result(LedgerRefusal.holdNotFound.result(["hold_id": .string(r.id)])); continue }
            if endedIDs.contains(r.id) { waiting.append((i, r.id, try book.balance(of: user))); continue }
            guard hold.status == .held else { answers[i] = .result(try answer(hold, balance: book.balance(of: user))); continue }
            var status = Hold.Status.captured
            var captured: Int64 = 0
            if hold.expiresAt <= book.now {
                status = .expired
            } else {
                let credits: Int64
                switch r.amount {
                case nil: credits = hold.reserved
                case .credits(let n)?: credits = n
                case .units(_, let units)?:
                    guard let agent = hold.agent, let price = prices[agent] else {
                        answers[i] = .result(LedgerRefusal.unknownAgent.result(["hold_id": .string(hold.id)]))
                        continue
                    }
                    let (cost, overflow) = units.multipliedReportingOverflow(by: price)
                    credits = overflow ? Int64.max : cost
                }
                guard credits <= hold.reserved else {
                    answers[i] = .result(LedgerRefusal.captureExceedsHold.result(["hold_id": .string(hold.id), "held": .int(hold.reserved)]))
                    continue
                }
                guard credits >= 0 else { answers[i] = .failed("a capture needs 0 or more credits, got \(credits)"); continue }
                captured = credits
                if credits == 0 { status = .voided }
            }
            try release(hold, in: book)
            if captured > 0 {
                _ = try book.take(userID: hold.userID, amount: captured, from: hold.allocations, reference: "hold.capture:\(hold.id)",
                                  kind: "hold.capture", metadata: ["hold_id": .string(hold.id)], notification: .holdUpdate,
                                  payload: ["hold_id": .string(hold.id), "status": .string(status.rawValue)])
            }
            ended.append((hold.id, status, captured))
            endedIDs.insert(hold.id)
            waiting.append((i, hold.id, try book.balance(of: user)))
        }
        try book.commit()
        if !ended.isEmpty {
            for row in try tx.query(HoldQueries.endMany, [ended.map(\.id), ended.map(\.status.rawValue), ended.map(\.captured)]) {
                let h = try Hold(row: row)
                holds[h.id] = h
            }
        }
        for w in waiting {
            let hold = try holds[w.id].orThrow("hold \(w.id) did not end")
            guard hold.status != .held else { throw LedgerError.invalid("hold \(w.id) did not end") }
            answers[w.index] = .result(try answer(hold, balance: w.balance))
        }
        return try answers.map { try $0.orThrow("a hold request was left unanswered") }
    }

    /// Locks these holds (after their accounts: the lock order), in id order.
    static func lock(_ ids: [String], on tx: Connection) throws -> [String: Hold] {
        guard !ids.isEmpty else { return [:] }
        var out: [String: Hold] = [:]
        for row in try tx.query(HoldQueries.lockMany, [Array(Set(ids)).sorted()]) {
            let h = try Hold(row: row)
            out[h.id] = h
        }
        return out
    }

    private static func agentPrices(_ agents: [String], on tx: Connection) throws -> [String: Int64] {
        guard !agents.isEmpty else { return [:] }
        var prices: [String: Int64] = [:]
        for row in try tx.query(LedgerQueries.agentPrices, [Array(Set(agents))]) {
            prices[try row.string("name")] = try row.int64("credits_per_unit")
        }
        return prices
    }
}
