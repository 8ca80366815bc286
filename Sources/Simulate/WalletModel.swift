/// Everything the simulator expects of Tally at the end: every account, hold, transfer,
/// card payment and crypto purchase, as the requests it had answered 2xx made them.
struct WalletModel {
    struct Hold {
        let id: String
        let user: String
        let reserved: Int64
        var pieces: [(index: Int, amount: Int64)]
        var status = "held"
        var captured: Int64 = 0
    }

    struct Transfer {
        let id: String
        let from: String
        let to: String
        let credits: Int64
        /// completed, escrowed, released or refunded.
        var status: String
        /// What an escrow took from the sender's grants (given back on a refund).
        var pieces: [(index: Int, amount: Int64)] = []
    }

    /// A Stripe top-up: what it bought and what refunds and disputes took back so far.
    struct Payment {
        let user: String
        let credits: Int64
        let charged: Int64
        let grant: Int
        var refunded: Int64 = 0
        var disputed: Int64 = 0
        /// nil (no dispute), "needs_response" (open), "won" or "lost".
        var disputeStatus: String?
        var taken: Int64 = 0
        var hasEarlyRefund = false

        /// ceil(credits × max(refunded, disputed while open or lost) ÷ charged) (DESIGN.md,
        /// "Payments"): what refunds and disputes have taken back once their events applied.
        var owed: Int64 {
            let basis = max(refunded, disputeStatus == "won" ? 0 : disputed)
            return (credits * basis + charged - 1) / charged
        }
    }

    struct Purchase {
        let id: String
        let user: String
        let credits: Int64
        var status: String
    }

    var accounts: [String: ModelAccount] = [:]
    var holds: [String: Hold] = [:]
    var transfers: [String: Transfer] = [:]
    var payments: [String: Payment] = [:]
    var purchases: [String: Purchase] = [:]

    func held(_ user: String) -> Int64 {
        holds.values.filter { $0.user == user && $0.status == "held" }.reduce(0) { $0 + $1.reserved }
    }
}
