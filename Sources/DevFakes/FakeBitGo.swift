import Foundation
import Support

/// A stand-in for BitGo's API on 127.0.0.1, answering in the shapes of the `bitgo/` fixtures:
/// new deposit addresses, the transfers its owner sets (built from the confirmed-transfer
/// fixture), the transfer list by address, and injected failures. Calls need the access token
/// of `environment`, as BitGo's do.
///
/// Transfers are set in process (`setTransfer`, tests) or over HTTP, for ops/run's sample
/// flow: `POST /_dev/transfers {"id", "coin", "address", "amount", "confirmations", "state"?}`
/// (a route of this stand-in only; BitGo has nothing like it).
public final class FakeBitGo: Sendable {
    public static let wallets = ["btc": "62f3a1c0b9e84d1f8a7c6e5d4b3a2910", "eth": "6301b2c3d4e5f60718293a4b5c6d7e8f"]
    public static let accessToken = "v2x-tally-dev-fake-token"
    public let server: FakeHTTPServer
    private let transfers = Shared<[String: JSON]>([:])
    private let failures = Shared<[String: Int]>([:])
    private let addressCount = Shared(0)
    private let transferTemplate: JSON

    public init(fixtures: FixtureDirectory) throws {
        server = try FakeHTTPServer()
        let addressTemplate = try fixtures.json("bitgo/api.create_address.btc.json")
        let transferTemplate = try fixtures.json("bitgo/api.get_transfer.btc.confirmed.json")
        self.transferTemplate = transferTemplate
        let transfers = self.transfers, failures = self.failures, addressCount = self.addressCount
        // BitGo never hands out an address twice: a restarted stand-in (ops/run, again on the
        // same database) must not either.
        let nonce = Crypto.randomHex(3)
        server.handle { request in
            if request.path == "/_dev/transfers" {
                return FakeBitGo.setTransferRoute(request, template: transferTemplate, transfers: transfers)
            }
            guard request.headers["authorization"] == "Bearer \(FakeBitGo.accessToken)" else {
                return .init(status: 401, body: #"{"error":"unauthorized","name":"Unauthorized"}"#)
            }
            // /api/v2/{coin}/wallet/{walletId}/{rest…}
            let parts = request.path.split(separator: "/").map(String.init)
            guard parts.count >= 5, parts[0] == "api", parts[1] == "v2", parts[3] == "wallet",
                  FakeBitGo.wallets[parts[2]] == parts[4] else {
                return .init(status: 404, body: #"{"error":"wallet not found","name":"WalletNotFound"}"#)
            }
            let coin = parts[2]
            let key = request.method + " " + request.path
            let failNow = failures.mutate { f -> Bool in
                guard let n = f[key], n > 0 else { return false }
                f[key] = n - 1
                return true
            }
            if failNow { return .init(status: 500, body: #"{"error":"internal error","name":"InternalError"}"#) }
            let rest = Array(parts.dropFirst(5))
            switch (request.method, rest.count, rest.first) {
            case ("POST", 1, "address"):
                let n = addressCount.mutate { c -> Int in
                    c += 1
                    return c
                }
                guard case .object(var o) = addressTemplate else { return nil }
                o["address"] = .string(coin == "btc" ? "bc1qfake\(nonce)\(n)"
                                       : "0xFAKE" + nonce + String(repeating: "0", count: 28 - String(n).count) + String(n))
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

    public var baseURL: String { server.baseURL }

    public var environment: [String: String] {
        ["BITGO_BASE_URL": baseURL, "BITGO_ACCESS_TOKEN": Self.accessToken, "BITGO_WALLET_BTC": Self.wallets["btc"]!,
         "BITGO_WALLET_ETH": Self.wallets["eth"]!]
    }

    /// Sets what BitGo's API says about a receive transfer to `address` (the confirmed-transfer
    /// fixture with these fields).
    public func setTransfer(_ id: String, coin: String = "btc", to address: String, amount: String, confirmations: Int,
                            state: String? = nil, createdTime: Date = Date()) {
        let t = Self.transfer(id, coin: coin, to: address, amount: amount, confirmations: confirmations, state: state,
                              createdTime: createdTime, template: transferTemplate)
        transfers.mutate { $0[id] = t }
    }

    /// The next `count` requests to `method path` answer 500.
    public func fail(_ method: String, _ path: String, times count: Int) {
        failures.mutate { $0[method + " " + path] = count }
    }

    public func requests(_ method: String, _ path: String) -> [FakeHTTPServer.Request] { server.requests(method, path) }

    static func transfer(_ id: String, coin: String, to address: String, amount: String, confirmations: Int, state: String?,
                         createdTime: Date, template: JSON) -> JSON {
        guard case .object(var o) = template, let wallet = wallets[coin] else { return template }
        let st = state ?? (confirmations > 0 ? "confirmed" : "unconfirmed")
        o["id"] = .string(id)
        o["coin"] = .string(coin)
        o["wallet"] = .string(wallet)
        o["state"] = .string(st)
        o["confirmations"] = .int(confirmations)
        o["valueString"] = .string(amount)
        o["value"] = .number(amount)
        o["createdTime"] = .string(Timestamp.iso8601(createdTime))
        o["unconfirmedTime"] = .string(Timestamp.iso8601(createdTime))
        o["date"] = .string(Timestamp.iso8601(createdTime))
        o["entries"] = [
            ["address": "bc1qm34lsc65zpw79lxes69zkqmk6ee3ewf0j77s3h", "value": .number("-" + amount), "valueString": .string("-" + amount)],
            ["address": .string(address), "wallet": .string(wallet), "value": .number(amount), "valueString": .string(amount),
             "isChange": false, "isPayGo": false],
        ]
        return .object(o)
    }

    /// `POST /_dev/transfers`: what ops/run's sample flow uses to "pay".
    private static func setTransferRoute(_ request: FakeHTTPServer.Request, template: JSON, transfers: Shared<[String: JSON]>) -> FakeHTTPServer.Response {
        guard request.method == "POST" else { return .init(status: 405, body: #"{"error":"POST a transfer"}"#) }
        guard let body = try? JSON.parse(request.bodyText), let id = body["id"]?.string, !id.isEmpty,
              let coin = body["coin"]?.string, wallets[coin] != nil, let address = body["address"]?.string,
              let amount = body["amount"]?.string ?? body["amount"]?.numberText, !amount.isEmpty, amount.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let confirmations = body["confirmations"]?.int, confirmations >= 0 else {
            return .init(status: 400, body: #"{"error":"needs id, coin (btc or eth), address, amount (base units, a decimal string) and confirmations"}"#)
        }
        let t = transfer(id, coin: coin, to: address, amount: amount, confirmations: confirmations, state: body["state"]?.string,
                         createdTime: Date(), template: template)
        transfers.mutate { $0[id] = t }
        return .init(body: t.serialized)
    }

    static func queryValue(_ query: String, _ name: String) -> String? {
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2, kv[0] == name { return kv[1].removingPercentEncoding }
        }
        return nil
    }
}
