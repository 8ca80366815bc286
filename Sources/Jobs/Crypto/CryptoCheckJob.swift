import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// `crypto.check {"coin", "transfer_id", "wallet"?}` (queue `payments`; enqueued by
/// POST /webhooks/bitgo with the key `crypto.check:<coin>:<transfer_id>`, unique among
/// unfinished jobs, and by crypto.poll with the same key): reads the transfer from BitGo's API
/// (`GET /api/v2/{coin}/wallet/{walletId}/transfer/{id}` of OUR wallet, `BITGO_WALLET_<COIN>`;
/// the webhook body is never trusted) and, in the transaction that completes the job:
///
/// - records it in `crypto_transfers`, one row per deposit address it pays;
/// - for each purchase with one of those addresses (locked): decides with `PurchaseDecision`
///   and applies it (`PurchaseTransition`): confirmations recorded; credits granted once
///   (ledger reference `crypto:<purchase id>`) when the confirmations reach the coin's
///   threshold and the money covers the quote; held when underpaid or late; clawed back when a
///   granted transfer turns `removed`.
///
/// A transfer BitGo does not know in our wallet (404), a webhook naming another wallet, or a
/// transfer paying no purchase completes with that outcome and changes no purchase. BitGo
/// errors retry with backoff. Result: `{"transfer_id", "coin", "state", "confirmations",
/// "outcome": "applied" | "not_found" | "foreign_wallet" | "unmatched", "purchases": [{"purchase_id",
/// "status", "previous_status", "granted", "clawed_back"}]}`.
public struct CryptoCheckJob: Job {
    public struct Args: Codable, Sendable {
        public let coin: String
        public let transfer_id: String
        public let wallet: String?

        public init(coin: String, transfer_id: String, wallet: String? = nil) {
            self.coin = coin
            self.transfer_id = transfer_id
            self.wallet = wallet
        }
    }

    public static let kind = "crypto.check"
    public static let queue = "payments"
    public static let timeout: TimeInterval = 120

    let settings: CryptoSettings

    public init(settings: CryptoSettings = .defaults) {
        self.settings = settings
    }

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let coin: Coin
        do {
            coin = try Coin.parse(args.coin)
            guard (1...256).contains(args.transfer_id.utf8.count) else { throw CryptoError.invalid("transfer_id must be 1 to 256 bytes") }
        } catch let error as CryptoError {
            throw JobError.permanent(error.description)
        }
        let bitgo: BitGo, wallet: String
        do {
            bitgo = try BitGo(context.environment, purpose: "crypto.check (reading transfers)")
            wallet = try bitgo.wallet(coin, purpose: "crypto.check (\(coin.rawValue) transfers)")
        } catch let error as ConfigurationError {
            throw JobError.permanent(error.description)
        }
        var result: [String: JSON] = ["transfer_id": .string(args.transfer_id), "coin": .string(coin.rawValue)]
        if let named = args.wallet, named != wallet {
            Log.warn("crypto check for another wallet", ["transfer_id": args.transfer_id, "wallet": named])
            result["outcome"] = "foreign_wallet"
            return .completed(.object(result))
        }
        let observation: TransferObservation
        do {
            guard let seen = try await bitgo.transfer(coin: coin, wallet: wallet, id: args.transfer_id) else {
                Log.warn("crypto check: BitGo does not know the transfer", ["transfer_id": args.transfer_id, "coin": coin.rawValue])
                result["outcome"] = "not_found"
                return .completed(.object(result))
            }
            observation = seen
        } catch let error as CryptoError {
            throw JobError.permanent(error.description)
        }
        let base = result
        return try await context.completeInTransaction { tx in
            let outcomes = try Self.apply(observation, wallet: wallet, settings: settings, on: tx)
            var result = base
            result["state"] = .string(observation.state)
            result["confirmations"] = .int(observation.confirmations)
            result["outcome"] = outcomes.isEmpty ? "unmatched" : "applied"
            result["purchases"] = .array(outcomes.map { o in
                ["purchase_id": .string(o.purchase.id), "status": .string(o.purchase.status.rawValue),
                 "previous_status": .string(o.previous.rawValue), "granted": .bool(o.granted), "clawed_back": .bool(o.clawedBack)]
            })
            return .object(result)
        }
    }

    /// Records the transfer and applies it to the purchases it pays, in `tx`.
    static func apply(_ t: TransferObservation, wallet: String, settings: CryptoSettings, on tx: Connection) throws -> [PurchaseTransition.Outcome] {
        let addresses = t.receipts.keys.sorted()
        guard !addresses.isEmpty else { return [] }
        let purchases = try tx.query(CryptoQueries.lockByAddresses, [t.coin.rawValue, addresses]).map(Purchase.init(row:))
        // One transfer may pay purchases of several users: their accounts are locked here, all
        // at once in user_id order (docs/ledger.md, "Lock order"), not one by one in purchase
        // order as each grant would take them.
        try tx.query(LedgerQueries.lockAccounts, [Array(Set(purchases.map(\.userID))).sorted()])
        let byAddress = Dictionary(purchases.compactMap { p in p.address.map { ($0, p.id) } }, uniquingKeysWith: { a, _ in a })
        for address in addresses {
            try tx.query(CryptoQueries.recordTransfer, [
                t.coin.rawValue, t.id, address, byAddress[address], t.walletID ?? wallet, t.txid, t.state, t.isLive,
                t.receipts[address]!.description, t.confirmations, t.firstSeenAt,
            ])
        }
        var outcomes: [PurchaseTransition.Outcome] = []
        for p in purchases {
            guard let facts = try p.facts(on: tx, threshold: settings.threshold(p.coin)) else { continue }
            let decision = PurchaseDecision.evaluate(facts, now: p.readAt)
            let outcome = try PurchaseTransition.apply(decision, to: p, settings: settings,
                                                       metadata: ["transfer_id": .string(t.id), "txid": .optional(t.txid)], on: tx)
            if outcome.previous != outcome.purchase.status || outcome.granted || outcome.clawedBack {
                Log.info("crypto purchase", ["purchase_id": p.id, "status": outcome.purchase.status.rawValue,
                                             "previous": outcome.previous.rawValue, "transfer_id": t.id,
                                             "confirmations": t.confirmations, "granted": outcome.granted])
            }
            outcomes.append(outcome)
        }
        return outcomes
    }
}
