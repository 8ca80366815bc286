import Foundation
import Support

/// The coins Tally accepts (DESIGN.md, "Payments" → Crypto), and what differs between them.
public enum Coin: String, Sendable, CaseIterable, Codable {
    case btc, eth

    /// Digits of the base unit: satoshi (10⁻⁸ BTC), wei (10⁻¹⁸ ETH).
    public var decimals: Int {
        switch self {
        case .btc: 8
        case .eth: 18
        }
    }

    /// CoinGecko's id in `/api/v3/simple/price?ids=…`.
    public var coingeckoID: String {
        switch self {
        case .btc: "bitcoin"
        case .eth: "ethereum"
        }
    }

    /// The BitGo wallet that receives this coin.
    public var walletSetting: String { "BITGO_WALLET_\(rawValue.uppercased())" }

    /// Where the confirmation threshold can be changed, and its default (DESIGN.md: BTC 3,
    /// ETH 64). ETH's 64 blocks are two epochs: finality under proof of stake, about 13 minutes.
    public var confirmationsSetting: String { "TALLY_CRYPTO_CONFIRMATIONS_\(rawValue.uppercased())" }
    public var defaultConfirmations: Int {
        switch self {
        case .btc: 3
        case .eth: 64
        }
    }

    /// Addresses as Tally stores and compares them. ETH addresses are hex, and BitGo or a
    /// wallet may write them with EIP-55 mixed-case checksums: compared in lowercase. BTC
    /// addresses are kept as written (legacy base58 is case-sensitive; bech32 comes lowercase).
    public func normalize(address: String) -> String {
        switch self {
        case .btc: address
        case .eth: address.lowercased()
        }
    }

    /// `btc` / `eth`, or a clear refusal.
    public static func parse(_ text: String) throws -> Coin {
        guard let coin = Coin(rawValue: text.lowercased()) else {
            throw CryptoError.invalid("coin must be btc or eth, got \"\(text)\"")
        }
        return coin
    }
}

/// A refusal of crypto input (bad args, an answer that does not fit): never retried.
public enum CryptoError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let m): m
        }
    }
}
