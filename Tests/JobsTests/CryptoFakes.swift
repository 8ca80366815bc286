import Foundation
import Support
import TestSupport

/// A fake BitGo on 127.0.0.1 answering in the shapes of Tests/Fixtures/bitgo: new
/// deposit addresses, transfers the test sets (built from the confirmed-transfer fixture),
/// the transfer list by address, and injected failures.
final class FakeBitGo: Sendable {
    static let wallets = ["btc": "62f3a1c0b9e84d1f8a7c6e5d4b3a2910", "eth": "6301b2c3d4e5f60718293a4b5c6d7e8f"]
    let server: FakeHTTPServer
    private let transfers = LockedBox<[String: JSON]>([:])
    private let failures = LockedBox<[String: Int]>([:])
    private let addressCount = LockedBox(0)

    init() throws {
        server = try FakeHTTPServer()
        let addressTemplate = try FakeBitGo.fixture("api.create_address.btc.json")
        let transfers = self.transfers, failures = self.failures, addressCount = self.addressCount
        server.handle { request in
            // /api/v2/{coin}/wallet/{walletId}/{rest…}
            let parts = request.path.split(separator: "/").map(String.init)
            guard parts.count >= 5, parts[0] == "api", parts[1] == "v2", parts[3] == "wallet",
                  FakeBitGo.wallets[parts[2]] == parts[4] else {
                return .init(status: 404, body: #"{"error":"wallet not found","name":"WalletNotFound"}"#)
            }
            let coin = parts[2]
            let key = request.method + " " + request.path
            var failNow = false
            failures.mutate { f in
                if let n = f[key], n > 0 {
                    f[key] = n - 1
                    failNow = true
                }
            }
            if failNow { return .init(status: 500, body: #"{"error":"internal error","name":"InternalError"}"#) }
            let rest = Array(parts.dropFirst(5))
            switch (request.method, rest.count, rest.first) {
            case ("POST", 1, "address"):
                var n = 0
                addressCount.mutate { $0 += 1; n = $0 }
                guard case .object(var o) = addressTemplate else { return nil }
                o["address"] = .string(coin == "btc" ? "bc1qfake\(n)" : "0xFAKE" + String(repeating: "0", count: 34 - String(n).count) + String(n))
                o["coin"] = .string(coin)
                o["wallet"] = .string(parts[4])
                o["index"] = .int(n)
                return .init(body: JSON.object(o).serialized)
            case ("GET", 2, "transfer"):
                let id = rest[1]
                guard let t = transfers.value[id], t["coin"]?.string == coin else {
                    return .init(status: 404, body: #"{"error":"transfer not found","name":"TransferNotFound"}"#)
                }
                return .init(body: t.serialized)
            case ("GET", 1, "transfer"):
                let address = FakeBitGo.queryValue(request.query, "address")
                let matching = transfers.value.values.filter { t in
                    t["coin"]?.string == coin && (t["entries"]?.array ?? []).contains { $0["address"]?.string == address }
                }.sorted { ($0["id"]?.string ?? "") < ($1["id"]?.string ?? "") }
                return .init(body: JSON.object(["coin": .string(coin), "transfers": .array(matching)]).serialized)
            default:
                return nil
            }
        }
    }

    var baseURL: String { server.baseURL }

    var environment: [String: String] {
        ["BITGO_BASE_URL": baseURL, "BITGO_ACCESS_TOKEN": "v2x-test-token", "BITGO_WALLET_BTC": Self.wallets["btc"]!,
         "BITGO_WALLET_ETH": Self.wallets["eth"]!]
    }

    /// Sets what BitGo's API says about a receive transfer to `address` (the confirmed-transfer
    /// fixture with these fields).
    func setTransfer(_ id: String, coin: String = "btc", to address: String, amount: String, confirmations: Int,
                     state: String? = nil, createdTime: Date = Date()) throws {
        guard case .object(var o) = try Self.fixture("api.get_transfer.btc.confirmed.json") else { return }
        let st = state ?? (confirmations > 0 ? "confirmed" : "unconfirmed")
        o["id"] = .string(id)
        o["coin"] = .string(coin)
        o["wallet"] = .string(Self.wallets[coin]!)
        o["state"] = .string(st)
        o["confirmations"] = .int(confirmations)
        o["valueString"] = .string(amount)
        o["value"] = .number(amount)
        o["createdTime"] = .string(Timestamp.iso8601(createdTime))
        o["unconfirmedTime"] = .string(Timestamp.iso8601(createdTime))
        o["date"] = .string(Timestamp.iso8601(createdTime))
        o["entries"] = [
            ["address": "bc1qm34lsc65zpw79lxes69zkqmk6ee3ewf0j77s3h", "value": .number("-" + amount), "valueString": .string("-" + amount)],
            ["address": .string(address), "wallet": .string(Self.wallets[coin]!), "value": .number(amount), "valueString": .string(amount),
             "isChange": false, "isPayGo": false],
        ]
        transfers.mutate { $0[id] = .object(o) }
    }

    /// The next `count` requests to `method path` answer 500.
    func fail(_ method: String, _ path: String, times count: Int) {
        failures.mutate { $0[method + " " + path] = count }
    }

    func requests(_ method: String, _ path: String) -> [FakeHTTPServer.Request] { server.requests(method, path) }

    static func fixture(_ name: String) throws -> JSON {
        try JSON.parse(try Fixture.text("bitgo/" + name))
    }

    static func queryValue(_ query: String, _ name: String) -> String? {
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2, kv[0] == name { return kv[1].removingPercentEncoding }
        }
        return nil
    }
}

/// A fake CoinGecko on 127.0.0.1 answering `/api/v3/simple/price` in the fixture's shape, with
/// the prices (as number text) and times the test sets, or 500 while `down`.
final class FakeCoinGecko: Sendable {
    let server: FakeHTTPServer
    private let state = LockedBox<(prices: [String: String], updated: Date?, down: Bool)>((["bitcoin": "63968.12", "ethereum": "3187.45"], nil, false))

    init() throws {
        server = try FakeHTTPServer()
        let state = self.state
        let template = try JSON.parse(try Fixture.text("coingecko/simple_price.btc_eth_usd.json"))
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

    var environment: [String: String] { ["COINGECKO_BASE_URL": server.baseURL] }

    /// Prices as JSON number text (`63968.123456789`), last updated at `updated` (default: now).
    func set(btc: String? = nil, eth: String? = nil, updated: Date? = nil) {
        state.mutate { s in
            if let btc { s.prices["bitcoin"] = btc }
            if let eth { s.prices["ethereum"] = eth }
            s.updated = updated
        }
    }

    func setDown(_ down: Bool) { state.mutate { $0.down = down } }

    var calls: Int { server.requests("GET", "/api/v3/simple/price").count }
}
