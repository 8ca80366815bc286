/// A crypto purchase's status (DESIGN.md, "Payments" → Crypto; the database checks the same
/// list). docs/crypto.md draws the transitions.
public enum PurchaseStatus: String, Sendable, CaseIterable, Codable {
    /// crypto.quote is pricing it and asking BitGo for an address.
    case quoting
    /// Quoted: the user may pay `amount_base_units` to `address` until `expires_at`.
    case awaitingPayment = "awaiting_payment"
    /// Money sent in time is on its way to the confirmation threshold.
    case confirming
    /// Confirmed, the quote covered exactly: credits granted.
    case paid
    /// Less than the quote arrived: held (no credits), the user notified; more may still come.
    case underpaid
    /// More than the quote: credits granted, the surplus recorded.
    case overpaid
    /// Nothing arrived before the quote expired.
    case expired
    /// Money arrived after the quote expired: held for an operator (`tally purchases confirm`).
    case late
    /// The quote could not be made (price_stale, unknown product, BitGo refused).
    case failed
    /// The paying transfer disappeared (re-org) after the grant: the credits were clawed back.
    case reversed

    /// Credits have been granted for it (a grant exists and stands).
    public var isGranted: Bool { self == .paid || self == .overpaid }

    /// No further change can come from the chain.
    public var isFinal: Bool { self == .failed || self == .reversed }

    /// An operator may confirm it by hand: there is an address and nothing has been granted.
    public var isConfirmableByHand: Bool {
        switch self {
        case .awaitingPayment, .confirming, .underpaid, .expired, .late: true
        case .quoting, .paid, .overpaid, .failed, .reversed: false
        }
    }

    /// The statuses it may move to. Every change Tally makes is checked against this table
    /// (`PurchaseTransition`), which is also the state diagram in docs/crypto.md.
    public var next: Set<PurchaseStatus> {
        switch self {
        case .quoting: [.awaitingPayment, .failed]
        // A payment may be seen first when it already has its confirmations (a missed webhook).
        case .awaitingPayment: [.confirming, .paid, .overpaid, .underpaid, .late, .expired]
        // Back to awaiting_payment / expired: the transfer vanished before its confirmations.
        case .confirming: [.awaitingPayment, .expired, .paid, .overpaid, .underpaid, .late]
        // More money may still come (a top-up), or vanish.
        case .underpaid: [.confirming, .paid, .overpaid, .late, .awaitingPayment, .expired]
        // A transfer first seen before the expiry can still turn up after it.
        case .expired: [.confirming, .paid, .overpaid, .underpaid, .late]
        // The operator grants (paid/overpaid), the late money vanishes, or money sent in time
        // turns up after all (its webhook was missed and crypto.poll found it).
        case .late: [.paid, .overpaid, .expired, .confirming, .underpaid]
        case .paid: [.overpaid, .reversed]
        case .overpaid: [.paid, .reversed]
        case .failed, .reversed: []
        }
    }

    public static func parse(_ text: String) -> PurchaseStatus? { PurchaseStatus(rawValue: text) }
}
