import Foundation

/// The simulator's own idea of one account: its grants in the order Tally created them, its
/// debt and its rewards today, changed by the same rules DESIGN.md gives the ledger (never
/// read back from Tally). The final check compares Tally's answer with this.
struct ModelAccount {
    struct Grant: Equatable {
        let source: String
        let amount: Int64
        var remaining: Int64
        /// Nil: never. Nothing expires during a run (the trial in 14 days, rollovers in a
        /// month), so only the order matters, and these times (the simulator's clock, not the
        /// database's) are far enough apart to give it.
        let expiresAt: Date?
        var promotional: Bool { ["trial", "reward", "streak", "referral"].contains(source) }
    }

    let user: String
    var grants: [Grant] = []
    var debt: Int64 = 0
    /// Credits earned today by reward action (the daily caps).
    var rewardsToday: [String: Int64] = [:]

    init(user: String) { self.user = user }

    /// Spendable: what the grants have left (holds took theirs out already), less debt.
    var balance: Int64 { grants.reduce(0) { $0 + $1.remaining } - debt }

    /// What may be sent to another user: the non-promotional grants' remainders, less debt,
    /// never more than the balance.
    var transferable: Int64 { min(grants.filter { !$0.promotional }.reduce(0) { $0 + $1.remaining } - debt, balance) }

    /// The consumption order (DESIGN.md, "The ledger"): soonest expiry first, never-expiring
    /// last; promotional before paid at the same expiry; then the oldest.
    var consumptionOrder: [Int] {
        grants.indices.sorted { a, b in
            let (x, y) = (grants[a], grants[b])
            switch (x.expiresAt, y.expiresAt) {
            case let (p?, q?) where p != q: return p < q
            case (nil, .some): return false
            case (.some, nil): return true
            default: break
            }
            if x.promotional != y.promotional { return x.promotional }
            return a < b
        }
    }

    /// A new grant; debt is repaid from it first. Answers its index.
    @discardableResult
    mutating func grant(_ source: String, _ amount: Int64, expiresAt: Date? = nil) -> Int {
        let repaid = min(debt, amount)
        debt -= repaid
        grants.append(Grant(source: source, amount: amount, remaining: amount - repaid, expiresAt: expiresAt))
        return grants.count - 1
    }

    /// Takes `amount` in consumption order (`first` before the others; only non-promotional
    /// grants when `paidOnly`): the pieces taken, and what the grants did not cover.
    mutating func take(_ amount: Int64, first: Int? = nil, paidOnly: Bool = false) -> (pieces: [(index: Int, amount: Int64)], left: Int64) {
        var order = consumptionOrder
        if let first, let p = order.firstIndex(of: first) { order.insert(order.remove(at: p), at: 0) }
        var left = amount
        var pieces: [(index: Int, amount: Int64)] = []
        for i in order where left > 0 && grants[i].remaining > 0 && (!paidOnly || !grants[i].promotional) {
            let t = min(left, grants[i].remaining)
            grants[i].remaining -= t
            left -= t
            pieces.append((i, t))
        }
        return (pieces, left)
    }

    /// The recipient's side of a transfer: one `transfer` grant per expiry of what was taken,
    /// in the order taken (each credit keeps the expiry it had).
    mutating func receive(_ pieces: [(expiresAt: Date?, amount: Int64)]) {
        var byExpiry: [(Date?, Int64)] = []
        for p in pieces {
            if let i = byExpiry.firstIndex(where: { $0.0 == p.expiresAt }) { byExpiry[i].1 += p.amount } else { byExpiry.append((p.expiresAt, p.amount)) }
        }
        for (expiry, amount) in byExpiry { grant("transfer", amount, expiresAt: expiry) }
    }

    /// What pieces taken from this account's grants carry to a recipient.
    func carried(_ pieces: [(index: Int, amount: Int64)]) -> [(expiresAt: Date?, amount: Int64)] {
        pieces.map { (grants[$0.index].expiresAt, $0.amount) }
    }

    /// Gives pieces back to the grants they came from (a released hold).
    mutating func restore(_ pieces: [(index: Int, amount: Int64)]) {
        for p in pieces { grants[p.index].remaining += p.amount }
    }

    /// A clawback: from `first`, then in consumption order, the rest as debt.
    mutating func clawback(_ amount: Int64, first: Int) {
        let (_, left) = take(amount, first: first)
        debt += left
    }

    /// The grants Tally lists (those with something left), as comparable text.
    var listedGrants: [String] { grants.filter { $0.remaining > 0 }.map { "\($0.source):\($0.amount):\($0.remaining)" } }
}
