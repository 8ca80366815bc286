import Foundation
import Support

/// CoinGecko's simple price API (`GET /api/v3/simple/price?ids=bitcoin,ethereum&vs_currencies=usd&include_last_updated_at=true`)
/// through the one outbound client, at `COINGECKO_BASE_URL` (e.g. https://api.coingecko.com;
/// required, so a deployment says which plan it uses). `COINGECKO_API_KEY`, when set, goes in
/// the header CoinGecko's plan expects (`x-cg-pro-api-key` for pro-api hosts, else
/// `x-cg-demo-api-key`); it is never logged.
public struct CoinGecko: Sendable {
    public let client: HTTPClient

    /// One coin's price as CoinGecko gave it.
    public struct Quote: Sendable, Equatable {
        public let coin: Coin
        public let usd: CoinPrice
        /// CoinGecko's `last_updated_at`: how old the price is.
        public let lastUpdatedAt: Date
    }

    public init(_ environment: Environment, purpose: String) throws {
        let base = try HTTPClient.fromEnvironment(environment, service: "CoinGecko", baseSetting: "COINGECKO_BASE_URL", defaultBase: nil,
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
        let answer = try await client.getJSON("/api/v3/simple/price", query: [
            ("ids", Coin.allCases.map(\.coingeckoID).joined(separator: ",")), ("vs_currencies", "usd"),
            ("include_last_updated_at", "true"),
        ])
        return try Self.parse(answer)
    }

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
