import Foundation
import Support

/// BitGo's API as the crypto jobs use it (https://developers.bitgo.com/api), through the one
/// outbound client (`HTTPClient`): `BITGO_BASE_URL` (e.g. https://app.bitgo.com),
/// `BITGO_ACCESS_TOKEN` (sent as a bearer token, never logged), and one wallet per coin,
/// `BITGO_WALLET_BTC` / `BITGO_WALLET_ETH`. A missing setting is a `ConfigurationError`
/// naming it.
public struct BitGo: Sendable {
    public let client: HTTPClient
    private let environment: Environment

    public init(_ environment: Environment, purpose: String) throws {
        client = try HTTPClient.fromEnvironment(environment, service: "BitGo", baseSetting: "BITGO_BASE_URL", defaultBase: nil,
                                                credentialSetting: "BITGO_ACCESS_TOKEN", purpose: purpose)
        self.environment = environment
    }

    /// The wallet that receives `coin`.
    public func wallet(_ coin: Coin, purpose: String) throws -> String {
        try environment.require(coin.walletSetting, for: purpose)
    }

    /// A new deposit address (`POST /api/v2/{coin}/wallet/{walletId}/address`), labelled with
    /// the purchase. The idempotency key is the purchase's, so a retried quote asks once.
    public func createAddress(coin: Coin, wallet: String, purchaseID: String) async throws -> String {
        let answer = try await client.postJSON(Self.path(coin, wallet, "address"), body: ["label": .string("tally purchase \(purchaseID)")],
                                               idempotencyKey: "crypto.quote:\(purchaseID)")
        guard let address = answer["address"]?.string, !address.isEmpty else {
            throw HTTPError(service: "BitGo", method: "POST", path: Self.path(coin, wallet, "address"), status: 200,
                            detail: "the answer has no address")
        }
        return coin.normalize(address: address)
    }

    /// One transfer (`GET /api/v2/{coin}/wallet/{walletId}/transfer/{id}`); nil when BitGo
    /// does not know it in this wallet (404: a forged or foreign webhook).
    public func transfer(coin: Coin, wallet: String, id: String) async throws -> TransferObservation? {
        let answer: JSON
        do {
            answer = try await client.getJSON(Self.path(coin, wallet, "transfer/" + Self.escape(id)))
        } catch let error as HTTPError where error.status == 404 {
            return nil
        }
        return try TransferObservation(json: answer, coin: coin)
    }

    /// The ids of the receive transfers to `address` (`GET …/transfer?address=…&type=receive`),
    /// newest first, the first page (at most 50: a deposit address sees one or two).
    public func receiveTransferIDs(coin: Coin, wallet: String, address: String) async throws -> [String] {
        let answer = try await client.getJSON(Self.path(coin, wallet, "transfer"),
                                              query: [("address", address), ("type", "receive"), ("limit", "50")])
        guard let transfers = answer["transfers"]?.array else {
            throw HTTPError(service: "BitGo", method: "GET", path: Self.path(coin, wallet, "transfer"), status: 200,
                            detail: "the answer has no transfers list")
        }
        return transfers.compactMap { t -> String? in
            guard t["type"]?.string ?? "receive" == "receive" else { return nil }
            let entries = t["entries"]?.array ?? []
            // Trust the filter, but when entries are given they must name the address.
            guard entries.isEmpty || entries.contains(where: { coin.normalize(address: $0["address"]?.string ?? "") == address }) else {
                return nil
            }
            return t["id"]?.string
        }
    }

    static func path(_ coin: Coin, _ wallet: String, _ rest: String) -> String {
        "/api/v2/\(coin.rawValue)/wallet/\(escape(wallet))/\(rest)"
    }

    /// Ids go into URL paths: anything but unreserved characters is escaped, so an id from a
    /// webhook can never change the path.
    static func escape(_ s: String) -> String { HTTPClient.formEncode(s) }
}
