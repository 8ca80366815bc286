import Foundation
import Postgres
import Support

/// The one place a purchase changes (inside the caller's transaction, on a purchase row it has
/// locked): the status, checked against `PurchaseStatus.next`; the grant or clawback through
/// the ledger; the poll schedule; and a `purchase_update` notification at every status change
/// (DESIGN.md, "Notifications"), written in the same transaction as the change.
///
/// Notifications need an account. A purchase's user may have none before paying: money seen
/// for a purchase opens the account (without the trial, as for Stripe, DESIGN.md: "a payment
/// for a user with no account opens the account without the trial"); changes before that
/// (quoted, failed, expired) notify only users who have an account.
enum PurchaseTransition {
    struct Outcome {
        let purchase: Purchase
        let previous: PurchaseStatus
        /// The ledger entry's grant or clawback applied in this change.
        let granted: Bool
        let clawedBack: Bool
    }

    /// Applies a payment decision to `p` (locked by the caller). `looked`: this was one of
    /// crypto.poll's looks, which moves the purchase's schedule on (backing off).
    static func apply(_ d: PurchaseDecision, to p: Purchase, settings: CryptoSettings, looked: Bool = false,
                      metadata: JSON = [:], on tx: Connection) throws -> Outcome {
        try check(p.status, d.status, purchase: p.id)
        var grantID: Int64?
        var granted = false, clawedBack = false
        switch d.action {
        case .none: break
        case .grant:
            guard let credits = p.credits else { throw CryptoError.invalid("purchase \(p.id) has no credits to grant") }
            try Ledger.openAccount(p.userID, openedBy: .payment, on: tx)
            var meta: [String: JSON] = ["purchase_id": .string(p.id), "coin": .string(p.coin.rawValue),
                                        "amount_base_units": .string(p.amount?.description ?? "0"),
                                        "received_base_units": .string(d.received.description)]
            for (k, v) in metadata.object ?? [:] { meta[k] = v }
            let change = try Ledger.grant(NewGrant(userID: p.userID, source: .crypto, amount: credits, reference: p.grantReference,
                                                   kind: "crypto", metadata: .object(meta)), on: tx)
            if let id = change?.grantID {
                grantID = id
                granted = true
            } else {
                grantID = try tx.query(CryptoQueries.grantByReference, [p.grantReference]).first?.int64("id")
            }
        case .clawback:
            guard let credits = p.credits else { throw CryptoError.invalid("purchase \(p.id) has no credits to take back") }
            let change = try Ledger.clawback(Clawback(userID: p.userID, amount: credits, reference: p.clawbackReference, fromGrant: p.grantID,
                                                      kind: "clawback",
                                                      metadata: ["purchase_id": .string(p.id), "reason": "the paying transfer was removed (re-org)"]),
                                             on: tx)
            clawedBack = change != nil
        }
        let changed = d.status != p.status
        let checks = changed ? 0 : p.checks + (looked ? 1 : 0)
        let next = changed || looked
            ? settings.poll.nextCheck(d.status, expiresAt: p.expiresAt, checks: checks, now: p.readAt)
            : p.nextCheckAt
        try tx.query(CryptoQueries.storeDecision, [p.id, d.status.rawValue, d.received.description, d.confirmations,
                                                   d.surplus?.description, d.covered?.description, grantID, next, checks])
        let updated = try reload(p.id, on: tx)
        if changed { try notify(updated, previous: p.status, on: tx) }
        return Outcome(purchase: updated, previous: p.status, granted: granted, clawedBack: clawedBack)
    }

    /// quoting → awaiting_payment with the quote made.
    static func quoted(_ p: Purchase, credits: Int64, usdCents: Int64, price: CoinGecko.Quote, amount: BaseUnits, address: String,
                       wallet: String, settings: CryptoSettings, on tx: Connection) throws -> Purchase {
        try check(p.status, .awaitingPayment, purchase: p.id)
        try tx.query(CryptoQueries.storeQuote, [p.id, credits, usdCents, price.usd.description, price.lastUpdatedAt, amount.description,
                                                address, wallet, Int64(settings.quoteLifetime * 1000),
                                                Int64(settings.poll.first * 1000)])
        let updated = try reload(p.id, on: tx)
        try notify(updated, previous: p.status, on: tx)
        return updated
    }

    /// quoting → failed, with a code and a message for people.
    static func failed(_ p: Purchase, code: String, message: String, on tx: Connection) throws -> Purchase {
        try check(p.status, .failed, purchase: p.id)
        try tx.query(CryptoQueries.storeFailure, [p.id, code, message])
        let updated = try reload(p.id, on: tx)
        try notify(updated, previous: p.status, on: tx)
        return updated
    }

    static func check(_ from: PurchaseStatus, _ to: PurchaseStatus, purchase: String) throws {
        guard from == to || from.next.contains(to) else {
            throw CryptoError.invalid("purchase \(purchase) cannot go from \(from.rawValue) to \(to.rawValue)")
        }
    }

    static func reload(_ id: String, on tx: Connection) throws -> Purchase {
        guard let row = try tx.query(CryptoQueries.get, [id]).first else { throw CryptoError.invalid("purchase \(id) vanished") }
        return try Purchase(row: row)
    }

    /// The `purchase_update` notification: the purchase as the API shows it, and what changed.
    static func notify(_ p: Purchase, previous: PurchaseStatus, on tx: Connection) throws {
        guard try !tx.query(CryptoQueries.accountExists, [p.userID]).isEmpty else { return }
        var payload: [String: JSON] = [
            "purchase_id": .string(p.id), "status": .string(p.status.rawValue), "previous_status": .string(previous.rawValue),
            "product": .string(p.product), "coin": .string(p.coin.rawValue), "credits": .optional(p.credits),
            "address": .optional(p.address), "amount_base_units": .optional(p.amount?.description),
            "received_base_units": .string(p.received.description),
            "expires_at": p.expiresAt.map { .string(Timestamp.iso8601($0)) } ?? .null,
        ]
        if let c = p.confirmations { payload["confirmations"] = .int(c) }
        if let s = p.surplus { payload["surplus_base_units"] = .string(s.description) }
        if let f = p.failure { payload["failure"] = .string(f) }
        try Inbox.write([InboxItem(userID: p.userID, type: .purchaseUpdate, payload: .object(payload))], on: tx)
    }
}
