import Foundation
import Support

/// What BitGo's API says about one transfer (`GET /api/v2/{coin}/wallet/{walletId}/transfer/{id}`),
/// reduced to what a payment check needs. Built from the API's answer only, never from a
/// webhook body (DESIGN.md).
///
/// Amounts come from `entries[].valueString` (exact decimal text; the numeric `value` is a
/// JSON number that BitGo's own docs warn can lose precision): each entry paying one of our
/// addresses is a receipt. A transfer is matched to a purchase by the deposit address of a
/// receipt, so one transaction paying two purchases counts for both.
public struct TransferObservation: Sendable, Equatable {
    public let id: String
    public let coin: Coin
    public let walletID: String?
    public let txid: String?
    /// BitGo's `type`: `receive` for deposits. Only receives pay purchases.
    public let type: String
    /// BitGo's `state`: `unconfirmed`, `confirmed`, `removed` (re-org), `failed`, `rejected`, …
    public let state: String
    /// 0 unless the state is `confirmed`.
    public let confirmations: Int
    /// When BitGo first saw it (`createdTime`, else `unconfirmedTime`, else `date`): what
    /// decides whether it was paid before the quote expired.
    public let firstSeenAt: Date?
    /// Positive amounts paid to each address (normalised for the coin), in base units.
    public let receipts: [String: BaseUnits]

    /// States in which the money is not (or no longer) coming: the transaction left the chain
    /// (`removed`, a re-org), was replaced (RBF), failed or was rejected.
    public static let goneStates: Set<String> = ["removed", "replaced", "failed", "rejected"]

    /// Still counts as money sent.
    public var isLive: Bool { !Self.goneStates.contains(state) }

    public init(id: String, coin: Coin, walletID: String? = nil, txid: String? = nil, type: String = "receive", state: String,
                confirmations: Int, firstSeenAt: Date?, receipts: [String: BaseUnits]) {
        self.id = id
        self.coin = coin
        self.walletID = walletID
        self.txid = txid
        self.type = type
        self.state = state
        self.confirmations = confirmations
        self.firstSeenAt = firstSeenAt
        self.receipts = receipts
    }

    /// Reads BitGo's Transfer object. Refuses an answer without an id or state, or with an
    /// amount that is not a whole number.
    public init(json: JSON, coin: Coin) throws {
        guard let id = json["id"]?.string, !id.isEmpty else { throw CryptoError.invalid("BitGo's transfer has no id") }
        guard let state = json["state"]?.string else { throw CryptoError.invalid("BitGo's transfer \(id) has no state") }
        let type = json["type"]?.string ?? ""
        var confirmations = 0
        if state == "confirmed" {
            guard let c = json["confirmations"]?.int, c >= 0 else {
                throw CryptoError.invalid("BitGo's confirmed transfer \(id) has no whole confirmations count")
            }
            confirmations = c
        }
        let walletID = json["wallet"]?.string
        var receipts: [String: BaseUnits] = [:]
        if type == "receive" {
            var paid: [(address: String, amount: BaseUnits, ours: Bool)] = []
            for entry in json["entries"]?.array ?? [] {
                guard let address = entry["address"]?.string, let text = entry["valueString"]?.string else { continue }
                if text.hasPrefix("-") || text == "0" { continue }  // the sender's side, or nothing
                guard let amount = BaseUnits(decimal: text) else {
                    throw CryptoError.invalid("BitGo's transfer \(id) has an entry valueString that is not a whole number: \"\(text)\"")
                }
                paid.append((coin.normalize(address: address), amount, walletID != nil && entry["wallet"]?.string == walletID))
            }
            // BitGo marks the entries of the transfer's own wallet: other outputs of the same
            // transaction (someone else's change, other recipients) are not ours. When none is
            // marked, every positive entry is kept and the address match decides.
            let ours = paid.filter(\.ours)
            for p in ours.isEmpty ? paid : ours { receipts[p.address, default: .zero] = receipts[p.address, default: .zero] + p.amount }
        }
        let seen = [json["createdTime"], json["unconfirmedTime"], json["date"]].lazy.compactMap { $0?.string.flatMap(Timestamp.parse) }.first
        self.init(id: id, coin: coin, walletID: walletID, txid: json["txid"]?.string, type: type, state: state,
                  confirmations: confirmations, firstSeenAt: seen, receipts: receipts)
    }
}
