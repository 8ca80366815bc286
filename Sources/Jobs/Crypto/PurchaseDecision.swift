import Foundation

/// What a purchase's payments add up to, and what Tally does about it: the rules of
/// DESIGN.md ("Payments" → Crypto) as a plain function of plain values, so every case is
/// tested without a database or BitGo. `crypto.check`, `crypto.poll` and
/// `crypto.confirm_manual` decide here and only apply the outcome.
///
/// The rules (docs/crypto.md has the reasoning):
/// - Money is the transfers to the purchase's address that are still live (not removed,
///   replaced, failed or rejected); it counts as confirmed from `threshold` confirmations.
/// - Money first seen by BitGo at or before `expires_at` is on time; later money is late.
/// - Not yet granted: confirmed on-time money covering the quote → grant (`paid`, or
///   `overpaid` when the live money exceeds the quote, the surplus recorded); on-time money still confirming →
///   `confirming`; only late money, or on-time money short with late money besides → `late`
///   (held for an operator); on-time money short and confirmed → `underpaid` (held); no money
///   → `awaiting_payment`, or `expired` once the quote has expired.
/// - Granted: if the live money no longer covers what the grant covered (a re-org removed the
///   transfer) → `reversed` and claw the credits back; otherwise `paid`/`overpaid` as above.
public struct PurchaseDecision: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        case none
        /// Grant the product's credits (once: the ledger reference is `crypto:<purchase id>`).
        case grant
        /// Take the granted credits back.
        case clawback
    }

    public let status: PurchaseStatus
    public let action: Action
    /// Live money to the address, confirmed or not.
    public let received: BaseUnits
    /// Live money beyond the quote (recorded for overpaid purchases).
    public let surplus: BaseUnits?
    /// The fewest confirmations among the live transfers (nil: none).
    public let confirmations: Int?
    /// For a grant: what it covers, min(quote, money counted), which a re-org must undercut to
    /// reverse it.
    public let covered: BaseUnits?

    /// One transfer's part in a purchase.
    public struct Transfer: Sendable, Equatable {
        public let id: String
        public let amount: BaseUnits
        public let confirmations: Int
        public let live: Bool
        public let firstSeenAt: Date

        public init(id: String, amount: BaseUnits, confirmations: Int, live: Bool, firstSeenAt: Date) {
            self.id = id
            self.amount = amount
            self.confirmations = confirmations
            self.live = live
            self.firstSeenAt = firstSeenAt
        }
    }

    /// What is known about a purchase.
    public struct Facts: Sendable, Equatable {
        public var status: PurchaseStatus
        public var quoted: BaseUnits
        public var expiresAt: Date
        /// What the standing grant covered; nil while nothing is granted.
        public var covered: BaseUnits?
        public var transfers: [Transfer]
        /// Confirmations that make money count (BTC 3, ETH 64 by default).
        public var threshold: Int

        public init(status: PurchaseStatus, quoted: BaseUnits, expiresAt: Date, covered: BaseUnits? = nil,
                    transfers: [Transfer], threshold: Int) {
            self.status = status
            self.quoted = quoted
            self.expiresAt = expiresAt
            self.covered = covered
            self.transfers = transfers
            self.threshold = threshold
        }
    }

    /// Why an operator's confirmation is refused.
    public enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        case alreadyGranted(PurchaseStatus)
        case notConfirmable(PurchaseStatus)

        public var code: String {
            switch self {
            case .alreadyGranted: "already_granted"
            case .notConfirmable: "not_confirmable"
            }
        }

        public var description: String {
            switch self {
            case .alreadyGranted(let s): "the purchase is \(s.rawValue): its credits were granted already"
            case .notConfirmable(let s): "a purchase that is \(s.rawValue) cannot be confirmed (there is nothing to pay or it was reversed)"
            }
        }
    }

    /// The status the chain's facts lead to at `now`, and what to do.
    public static func evaluate(_ f: Facts, now: Date) -> PurchaseDecision {
        let live = f.transfers.filter(\.live)
        let received = sum(live)
        let fewest = live.map(\.confirmations).min()
        func decision(_ status: PurchaseStatus, _ action: Action = .none, covered: BaseUnits? = nil) -> PurchaseDecision {
            let surplus = status == .overpaid ? received.minus(f.quoted) : nil
            return PurchaseDecision(status: status, action: action, received: received, surplus: surplus, confirmations: fewest,
                                    covered: covered)
        }
        if f.status == .quoting || f.status.isFinal { return decision(f.status) }

        if let covered = f.covered {
            if received < covered { return decision(.reversed, .clawback) }
            return decision(received > f.quoted ? .overpaid : .paid, covered: covered)
        }

        // Time only moves forward: a purchase once expired (or paid late) stays past its expiry
        // whatever clock decides now.
        let pastExpiry = now >= f.expiresAt || f.status == .expired || f.status == .late
        if live.isEmpty { return decision(pastExpiry ? .expired : .awaitingPayment) }
        let onTime = live.filter { $0.firstSeenAt <= f.expiresAt }
        if onTime.isEmpty { return decision(.late) }
        let confirmedOnTime = sum(onTime.filter { $0.confirmations >= f.threshold })
        if confirmedOnTime >= f.quoted {
            return decision(received > f.quoted ? .overpaid : .paid, .grant, covered: f.quoted)
        }
        if onTime.contains(where: { $0.confirmations < f.threshold }) { return decision(.confirming) }
        if onTime.count < live.count { return decision(.late) }
        return decision(.underpaid)
    }

    /// An operator confirms the payment by hand (`tally purchases confirm`): the credits are
    /// granted whatever the chain says so far; `paid`, or `overpaid` when more than the quote
    /// has arrived. Refused when already granted or when there is nothing to confirm.
    public static func confirmByHand(_ f: Facts) -> Result<PurchaseDecision, Refusal> {
        if f.covered != nil || f.status.isGranted { return .failure(.alreadyGranted(f.status)) }
        guard f.status.isConfirmableByHand else { return .failure(.notConfirmable(f.status)) }
        let live = f.transfers.filter(\.live)
        let received = sum(live)
        let over = received > f.quoted
        return .success(PurchaseDecision(status: over ? .overpaid : .paid, action: .grant, received: received,
                                         surplus: over ? received.minus(f.quoted) : nil,
                                         confirmations: live.map(\.confirmations).min(), covered: min(f.quoted, received)))
    }

    private static func sum(_ transfers: [Transfer]) -> BaseUnits {
        transfers.reduce(.zero) { $0 + $1.amount }
    }
}
