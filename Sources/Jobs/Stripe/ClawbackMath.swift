/// The clawback arithmetic of DESIGN.md ("Payments", Stripe), per charge and cumulative, in
/// integer maths only:
///
///     credits to take = ceil(credits bought × max(amount refunded, amount in a lost or open
///                            dispute) ÷ amount charged)
///
/// Each event moves what was taken to that target: it takes only the difference, and gives
/// back when the target falls (a dispute won: what the dispute took comes back).
public struct ClawbackMath: Sendable, Equatable {
    public var creditsBought: Int64
    /// In minor units, as are the others.
    public var amountCharged: Int64
    /// Cumulative (Stripe's `amount_refunded`).
    public var amountRefunded: Int64
    public var disputeAmount: Int64
    public var disputeStatus: String?

    public init(creditsBought: Int64, amountCharged: Int64, amountRefunded: Int64 = 0, disputeAmount: Int64 = 0, disputeStatus: String? = nil) {
        self.creditsBought = creditsBought
        self.amountCharged = amountCharged
        self.amountRefunded = amountRefunded
        self.disputeAmount = disputeAmount
        self.disputeStatus = disputeStatus
    }

    /// Disputes whose money is gone or held: open (`needs_response`, `under_review`) or `lost`.
    /// Inquiries (`warning_*`) move no money; `won`, `prevented` and `warning_closed` give none
    /// back to take.
    public static func disputeCounts(_ status: String?) -> Bool {
        switch status {
        case "needs_response", "under_review", "lost": true
        default: false
        }
    }

    /// The amount (minor units) whose credits must be gone: the larger of what was refunded and
    /// what a counting dispute holds, never more than was charged.
    public var amountTakenBack: Int64 {
        let disputed = Self.disputeCounts(disputeStatus) ? disputeAmount : 0
        return min(max(amountRefunded, disputed, 0), amountCharged)
    }

    /// ceil(creditsBought × amountTakenBack ÷ amountCharged), exact in 128 bits.
    public var target: Int64 {
        guard amountCharged > 0, creditsBought > 0 else { return 0 }
        let product = creditsBought.multipliedFullWidth(by: amountTakenBack)
        let (quotient, remainder) = amountCharged.dividingFullWidth(product)
        return remainder > 0 ? quotient + 1 : quotient
    }

    /// What the next event takes (positive) or gives back (negative), given what was taken.
    public func step(alreadyTaken: Int64) -> Int64 { target - alreadyTaken }
}
