import Foundation
import Support

/// A stand-in for CoinGecko's simple price API on 127.0.0.1: `GET /api/v3/simple/price`
/// answers in the shape of `coingecko/simple_price.btc_eth_usd.json`, with the prices (as
/// number text) the owner sets and `last_updated_at` now unless set, or 500 while `down`.
public final class FakeCoinGecko: Sendable {
    public let server: FakeHTTPServer
    private let state = Shared<(prices: [String: String], updated: Date?, down: Bool)>((["bitcoin": "63968.12", "ethereum": "3187.45"], nil, false))

    public init(fixtures: FixtureDirectory) throws {
        server = try FakeHTTPServer()
        let state = self.state
        let template = try fixtures.json("coingecko/simple_price.btc_eth_usd.json")
        server.handle { request in
            guard request.method == "GET", request.path == "/api/v3/simple/price" else { return nil }
            let s = state.value
            if s.down { return .init(status: 500, body: #"{"status":{"error_code":500,"error_message":"down"}}"#) }
            guard case .object(var o) = template else { return nil }
            let updated = Int64((s.updated ?? Date()).timeIntervalSince1970)
            for (id, price) in s.prices {
                o[id] = ["usd": .number(price), "last_updated_at": .int(updated)]
            }
            return .init(body: JSON.object(o).serialized)
        }
    }

    public var baseURL: String { server.baseURL }

    public var environment: [String: String] { ["COINGECKO_BASE_URL": server.baseURL] }

    /// Prices as JSON number text (`63968.123456789`), last updated at `updated` (default: now).
    public func set(btc: String? = nil, eth: String? = nil, updated: Date? = nil) {
        state.mutate { s in
            if let btc { s.prices["bitcoin"] = btc }
            if let eth { s.prices["ethereum"] = eth }
            s.updated = updated
        }
    }

    public func setDown(_ down: Bool) { state.mutate { $0.down = down } }

    public var calls: Int { server.requests("GET", "/api/v3/simple/price").count }
}
