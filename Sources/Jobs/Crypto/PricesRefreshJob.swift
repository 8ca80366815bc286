import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// `prices.refresh {"as_of"?}` (cron, every minute; queue `payments`): BTC and ETH in USD from
/// CoinGecko into `crypto_prices`, with CoinGecko's `last_updated_at` and the time fetched.
/// A failed fetch changes nothing (the last price stays, and ages towards price_stale) and
/// retries with backoff; only 3 attempts, because the next minute's run fetches anyway.
/// `COINGECKO_BASE_URL` defaults to CoinGecko's public API.
/// Result: `{"prices": {"btc": {"usd": "63968.12", "last_updated_at": …}, …}}`.
public struct PricesRefreshJob: Job {
    public struct Args: Codable, Sendable {
        public let as_of: String?
    }

    public static let kind = "prices.refresh"
    public static let queue = "payments"
    public static let maxAttempts = 3
    public static let timeout: TimeInterval = 60

    public init() {}

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let coingecko: CoinGecko
        do { coingecko = try CoinGecko(context.environment, purpose: "prices.refresh") } catch let error as ConfigurationError {
            throw JobError.permanent(error.description)
        }
        let quotes = try await coingecko.prices()
        return try await context.completeInTransaction { tx in
            try Self.store(Array(quotes.values), on: tx)
            var out: [String: JSON] = [:]
            for q in quotes.values {
                out[q.coin.rawValue] = ["usd": .string(q.usd.description), "last_updated_at": .string(Timestamp.iso8601(q.lastUpdatedAt))]
            }
            return ["prices": .object(out)]
        }
    }

    /// Stores prices, each only if not older than the one stored.
    static func store(_ quotes: [CoinGecko.Quote], on tx: Connection) throws {
        guard !quotes.isEmpty else { return }
        try tx.query(CryptoQueries.storePrices, [quotes.map(\.coin.rawValue), quotes.map(\.usd.description), quotes.map(\.lastUpdatedAt)])
    }
}
