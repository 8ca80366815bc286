import Foundation
import Support

/// CoinGecko's simple price API (`GET /api/v3/simple/price?ids=bitcoin,ethereum&vs_currencies=usd&include_last_updated_at=true`)
/// through the one outbound client, at `COINGECKO_BASE_URL`, by default CoinGecko's public API
/// (`https://api.coingecko.com`, keyless; `https://pro-api.coingecko.com` for a paid plan), as
/// `STRIPE_API_BASE` defaults to Stripe's. `COINGECKO_API_KEY`, when set, goes in the header
/// CoinGecko's plan expects (`x-cg-pro-api-key` for pro-api hosts, else `x-cg-demo-api-key`);
/// it is never logged.
public struct CoinGecko: Sendable {
    /// The public API's base: the client appends `/api/v3/simple/price`.
    public static let publicAPI = "https://api.coingecko.com"

    public let client: HTTPClient

    /// One coin's price as CoinGecko gave it.
    public struct Quote: Sendable, Equatable {
        public let coin: Coin
        public let usd: CoinPrice
        /// CoinGecko's `last_updated_at`: how old the price is.
        public let lastUpdatedAt: Date
    }

    public init(_ environment: Environment, purpose: String) throws {
        let base = try HTTPClient.fromEnvironment(environment, service: "CoinGecko", baseSetting: "COINGECKO_BASE_URL", defaultBase: Self.publicAPI,
                                                  credentialSetting: nil, purpose: purpose)
        if let key = environment["COINGECKO_API_KEY"] {
            let header = (base.baseURL.host ?? "").hasPrefix("pro-api") ? "x-cg-pro-api-key" : "x-cg-demo-api-key"
            client = HTTPClient(service: "CoinGecko", baseURL: base.baseURL, headers: [header: key],
                                connectTimeout: base.connectTimeout, totalTimeout: base.totalTimeout)
        } else {
            client = base
        }
    }

    /// The USD price of every coin. Throws when the call fails or any coin is missing or
    /// malformed: a fetch is all or nothing, so a half answer never replaces a good price.
    public func prices() async throws -> [Coin: Quote] {
        let answer = try await client.getJSON(Self.pricePath, query: Self.priceQuery)
        return try Self.parse(answer)
    }

    static let pricePath = "/api/v3/simple/price"
    static let priceQuery = [("ids", Coin.allCases.map(\.coingeckoID).joined(separator: ",")), ("vs_currencies", "usd"),
                             ("include_last_updated_at", "true")]

    /// Where `prices()` sends its request (tests check it without calling it).
    public var pricesURL: URL { get throws { try client.url(Self.pricePath, query: Self.priceQuery) } }

    /// Reads `{"bitcoin": {"usd": 63968.12, "last_updated_at": 1785940320}, …}`: the price from
    /// the number's text (never a Double), the time from whole Unix seconds.
    public static func parse(_ answer: JSON) throws -> [Coin: Quote] {
        var out: [Coin: Quote] = [:]
        for coin in Coin.allCases {
            guard let entry = answer[coin.coingeckoID] else { throw CryptoError.invalid("CoinGecko's answer has no \(coin.coingeckoID)") }
            guard let text = entry["usd"]?.numberText, let usd = CoinPrice(text) else {
                throw CryptoError.invalid("CoinGecko's \(coin.coingeckoID).usd is not a positive number: \(entry["usd"]?.serialized ?? "missing")")
            }
            guard let seconds = entry["last_updated_at"]?.int64, seconds > 0 else {
                throw CryptoError.invalid("CoinGecko's \(coin.coingeckoID).last_updated_at is not whole Unix seconds")
            }
            out[coin] = Quote(coin: coin, usd: usd, lastUpdatedAt: Date(timeIntervalSince1970: TimeInterval(seconds)))
        }
        return out
    }
}
