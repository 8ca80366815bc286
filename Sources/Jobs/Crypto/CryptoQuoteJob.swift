import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// `crypto.quote {"purchase_id", "user_id", "product", "coin"}` (queue `payments`; enqueued by
/// POST /v1/purchases/crypto, CONTRACTS.md): prices the purchase and asks BitGo for its deposit
/// address.
///
/// 1. The purchase row appears as `quoting` (so GET /v1/purchases/{id} finds it at once).
/// 2. The product's USD price (a one-off product; a subscription cannot be bought with crypto)
///    ÷ the coin's price, in base units, rounded up (`CryptoQuote`). The price must be no older
///    than `TALLY_CRYPTO_PRICE_MAX_AGE` (5 min) by CoinGecko's `last_updated_at`; an older one
///    gets ONE refresh from CoinGecko, then the quote fails with `price_stale`.
/// 3. A deposit address from BitGo (`POST /api/v2/{coin}/wallet/{walletId}/address`, with the
///    purchase as idempotency key).
/// 4. In the transaction that completes the job: the purchase becomes `awaiting_payment`,
///    expiring `TALLY_CRYPTO_QUOTE_TTL` (30 min) from now, and the user is notified.
///
/// Result (what a `Prefer: wait` caller gets): the purchase as GET /v1/purchases/{id} shows it
/// (`purchase_id, address, amount_base_units, expires_at, …`) plus `price_usd`; or a refusal,
/// `{"error": "price_stale" | "unknown_product", "message", "purchase_id", "status": "failed"}`,
/// with the purchase `failed`. Missing BitGo settings fail the job permanently, naming the
/// setting (the purchase `failed`, `not_configured`); BitGo errors retry, 5 attempts at most.
/// Running it again for a quoted purchase answers the same quote.
public struct CryptoQuoteJob: Job {
    public struct Args: Codable, Sendable {
        public let purchase_id: String
        public let user_id: String
        public let product: String
        public let coin: String

        public init(purchase_id: String, user_id: String, product: String, coin: String) {
            self.purchase_id = purchase_id
            self.user_id = user_id
            self.product = product
            self.coin = coin
        }
    }

    public static let kind = "crypto.quote"
    public static let queue = "payments"
    /// 1 + 16 + 81 + 256 s of backoff: a quote that cannot be made in ~6 minutes is failed
    /// rather than handed to a user who has long stopped waiting.
    public static let maxAttempts = 5
    public static let timeout: TimeInterval = 120

    let settings: CryptoSettings

    public init(settings: CryptoSettings = .defaults) {
        self.settings = settings
    }

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let id: String, coin: Coin
        do {
            id = try Purchase.canonicalID(args.purchase_id)
            coin = try Coin.parse(args.coin)
            guard (1...256).contains(args.user_id.utf8.count) else { throw CryptoError.invalid("user_id must be 1 to 256 bytes") }
            guard (1...64).contains(args.product.utf8.count) else { throw CryptoError.invalid("product must be 1 to 64 bytes") }
        } catch let error as CryptoError {
            throw JobError.permanent(error.description)
        }
        let jobID = context.job.id
        let start = try await context.pool.transaction { tx -> Purchase in
            try tx.query(CryptoQueries.insertQuoting, [id, args.user_id, args.product, coin.rawValue, jobID])
            return try PurchaseTransition.reload(id, on: tx)
        }
        guard start.userID == args.user_id, start.product == args.product, start.coin == coin else {
            throw JobError.permanent("purchase \(id) exists for another user, product or coin: a purchase id names one purchase")
        }
        if start.status != .quoting {
            // Quoted (or refused) before: answer the same.
            return .completed(try await context.pool.withConnection { try Self.result(start, on: $0) })
        }

        let (product, stored) = try await context.pool.withConnection { c in
            (try c.query(CryptoQueries.product, [args.product]).first.map { (credits: try $0.int64("credits"), cents: try $0.int64("usd_cents"),
                                                                               monthly: try $0.bool("monthly")) },
             try c.query(CryptoQueries.price, [coin.rawValue]).first.map { (usd: try $0.string("usd"), updated: try $0.date("last_updated_at"),
                                                                             now: try $0.date("now")) })
        }
        guard let product, !product.monthly else {
            let why = product == nil ? "no product \"\(args.product)\" (tally products list)"
                : "\(args.product) is a subscription, which crypto cannot pay"
            return try await refuse(id, code: "unknown_product", message: why, context: context)
        }

        // The price: fresh enough, or refreshed once, or the quote fails with price_stale.
        let now = stored?.now ?? Date()
        var price = stored.flatMap { s in CoinPrice(s.usd).map { CoinGecko.Quote(coin: coin, usd: $0, lastUpdatedAt: s.updated) } }
        var refreshed: [CoinGecko.Quote] = []
        if price.map({ now.timeIntervalSince($0.lastUpdatedAt) > settings.priceMaxAge }) ?? true {
            let last = price.map { "the last is from \(Timestamp.iso8601($0.lastUpdatedAt)) (\(DurationText.format(now.timeIntervalSince($0.lastUpdatedAt))) old)" }
                ?? "there is none yet"
            do {
                let quotes = try await CoinGecko(context.environment, purpose: "crypto.quote (refreshing a stale price)").prices()
                refreshed = Array(quotes.values)
                if let q = quotes[coin], now.timeIntervalSince(q.lastUpdatedAt) <= settings.priceMaxAge {
                    price = q
                } else {
                    return try await refuse(id, code: "price_stale", message: "no \(coin.rawValue) price newer than "
                        + "\(DurationText.format(settings.priceMaxAge)): CoinGecko's is from \(quotes[coin].map { Timestamp.iso8601($0.lastUpdatedAt) } ?? "-"); try again shortly",
                        storing: refreshed, context: context)
                }
            } catch {
                return try await refuse(id, code: "price_stale", message: "no \(coin.rawValue) price newer than "
                    + "\(DurationText.format(settings.priceMaxAge)): \(last), and refreshing it failed (\(error)); try again shortly",
                    context: context)
            }
        }
        guard let price else { throw JobError.permanent("unreachable: no price") }
        let fetched = refreshed
        let amount = CryptoQuote.baseUnits(usdCents: product.cents, price: price.usd, coin: coin)

        let address: String, wallet: String
        do {
            let bitgo = try BitGo(context.environment, purpose: "crypto.quote (deposit addresses)")
            wallet = try bitgo.wallet(coin, purpose: "crypto.quote (\(coin.rawValue) deposit addresses)")
            address = try await bitgo.createAddress(coin: coin, wallet: wallet, purchaseID: id)
        } catch let error as ConfigurationError {
            try await markFailed(id, code: "not_configured", message: error.description, pool: context.pool)
            throw JobError.permanent(error.description)
        } catch let error as HTTPError {
            // Retried until the last attempt, which records the purchase as failed.
            guard !error.isRetryable || context.job.attempt >= context.job.maxAttempts else { throw error }
            try await markFailed(id, code: "bitgo_error", message: error.description, pool: context.pool)
            throw JobError.permanent(error.description)
        }

        return try await context.completeInTransaction { tx in
            try PricesRefreshJob.store(fetched, on: tx)
            var p = try Purchase(row: try tx.query(CryptoQueries.lock, [id]).first.orThrow("purchase \(id) vanished"))
            if p.status == .quoting {
                p = try PurchaseTransition.quoted(p, credits: product.credits, usdCents: product.cents, price: price, amount: amount,
                                                  address: address, wallet: wallet, settings: settings, on: tx)
                Log.info("crypto quote", ["purchase_id": id, "coin": coin.rawValue, "amount_base_units": amount, "price_usd": price.usd])
            }
            return try Self.result(p, on: tx)
        }
    }

    /// The quote is refused: the purchase `failed`, the job completed with the refusal.
    private func refuse(_ id: String, code: String, message: String, storing refreshed: [CoinGecko.Quote] = [],
                        context: JobContext) async throws -> JobResult {
        // A stale price means CoinGecko is failing: worth an operator's eye; the rest is input.
        Log.write(code == "price_stale" ? .warn : .info, "crypto quote refused", ["purchase_id": id, "error": code, "message": message])
        return try await context.completeInTransaction { tx in
            try PricesRefreshJob.store(refreshed, on: tx)
            var p = try Purchase(row: try tx.query(CryptoQueries.lock, [id]).first.orThrow("purchase \(id) vanished"))
            if p.status == .quoting { p = try PurchaseTransition.failed(p, code: code, message: message, on: tx) }
            return try Self.result(p, on: tx)
        }
    }

    /// Marks a quote failed outside the job's completion (the job is then discarded).
    private func markFailed(_ id: String, code: String, message: String, pool: ConnectionPool) async throws {
        try await pool.transaction { tx in
            let p = try Purchase(row: try tx.query(CryptoQueries.lock, [id]).first.orThrow("purchase \(id) vanished"))
            if p.status == .quoting { _ = try PurchaseTransition.failed(p, code: code, message: message, on: tx) }
        }
    }

    /// The quote as the API shows it, or the refusal.
    static func result(_ p: Purchase, on c: Connection) throws -> JSON {
        if p.status == .failed {
            return ["error": .string(p.failure ?? "failed"), "message": .optional(p.failureMessage), "purchase_id": .string(p.id),
                    "status": "failed"]
        }
        guard case .object(var view) = try c.query(CryptoQueries.apiView, [p.id]).first?.json("purchase") ?? .null else {
            throw CryptoError.invalid("purchase \(p.id) vanished")
        }
        view["price_usd"] = .optional(p.priceUSD)
        return .object(view)
    }
}
