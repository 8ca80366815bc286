import Foundation
import Postgres
import Support

/// One crypto purchase as stored (sql/0006_crypto.sql, `crypto_purchases`).
public struct Purchase: Sendable, Equatable {
    public let id: String
    public let userID: String
    public let product: String
    public let coin: Coin
    public let status: PurchaseStatus
    public let credits: Int64?
    public let usdCents: Int64?
    public let priceUSD: String?
    public let priceUpdatedAt: Date?
    public let amount: BaseUnits?
    public let address: String?
    public let walletID: String?
    public let quotedAt: Date?
    public let expiresAt: Date?
    public let received: BaseUnits
    public let confirmations: Int?
    public let surplus: BaseUnits?
    public let grantID: Int64?
    public let grantedAt: Date?
    public let covered: BaseUnits?
    public let reversedAt: Date?
    public let failure: String?
    public let failureMessage: String?
    public let nextCheckAt: Date?
    public let checks: Int
    public let quoteJobID: Int64?
    public let createdAt: Date
    public let updatedAt: Date
    /// The database's time when the row was read (what decisions measure expiry against).
    public let readAt: Date

    public init(row: Row) throws {
        func units(_ column: String) throws -> BaseUnits? {
            guard let text = try row.optString(column) else { return nil }
            guard let v = BaseUnits(decimal: text) else { throw CryptoError.invalid("\(column) is not a whole number: \(text)") }
            return v
        }
        id = try row.string("id")
        userID = try row.string("user_id")
        product = try row.string("product")
        coin = try Coin.parse(try row.string("coin"))
        guard let s = PurchaseStatus.parse(try row.string("status")) else { throw CryptoError.invalid("unknown purchase status in row") }
        status = s
        credits = try row.optInt64("credits")
        usdCents = try row.optInt64("usd_cents")
        priceUSD = try row.optString("price_usd")
        priceUpdatedAt = try row.optDate("price_updated_at")
        amount = try units("amount_base_units")
        address = try row.optString("address")
        walletID = try row.optString("wallet_id")
        quotedAt = try row.optDate("quoted_at")
        expiresAt = try row.optDate("expires_at")
        received = try units("received_base_units") ?? .zero
        confirmations = try row.optInt("confirmations")
        surplus = try units("surplus_base_units")
        grantID = try row.optInt64("grant_id")
        grantedAt = try row.optDate("granted_at")
        covered = try units("covered_base_units")
        reversedAt = try row.optDate("reversed_at")
        failure = try row.optString("failure")
        failureMessage = try row.optString("failure_message")
        nextCheckAt = try row.optDate("next_check_at")
        checks = try row.int("checks")
        quoteJobID = try row.optInt64("quote_job_id")
        createdAt = try row.date("created_at")
        updatedAt = try row.date("updated_at")
        readAt = try row.date("now")
    }

    /// A purchase id as the database keeps it: a UUID in lowercase, or a refusal.
    public static func canonicalID(_ text: String) throws -> String {
        guard let uuid = UUID(uuidString: text) else {
            throw CryptoError.invalid("purchase id must be a UUID, got \"\(text)\"")
        }
        return uuid.uuidString.lowercased()
    }

    /// The ledger reference of its grant (DESIGN.md: `crypto:<purchase id>`), applied once.
    public var grantReference: String { "crypto:\(id)" }
    /// The ledger reference of a re-org's clawback.
    public var clawbackReference: String { "clawback:crypto:\(id)" }

    /// Everything, for `tally purchases show --json` and job results.
    public var json: JSON {
        func time(_ d: Date?) -> JSON { d.map { .string(Timestamp.iso8601($0)) } ?? .null }
        func units(_ u: BaseUnits?) -> JSON { u.map { .string($0.description) } ?? .null }
        return [
            "purchase_id": .string(id), "user_id": .string(userID), "product": .string(product), "coin": .string(coin.rawValue),
            "status": .string(status.rawValue), "credits": .optional(credits), "usd_cents": .optional(usdCents),
            "price_usd": .optional(priceUSD), "price_updated_at": time(priceUpdatedAt),
            "amount_base_units": units(amount), "address": .optional(address), "wallet_id": .optional(walletID),
            "quoted_at": time(quotedAt), "expires_at": time(expiresAt), "received_base_units": .string(received.description),
            "confirmations": confirmations.map { .int($0) } ?? .null, "surplus_base_units": units(surplus),
            "grant_id": .optional(grantID), "granted_at": time(grantedAt), "covered_base_units": units(covered),
            "reversed_at": time(reversedAt), "failure": .optional(failure), "failure_message": .optional(failureMessage),
            "next_check_at": time(nextCheckAt), "checks": .int(checks), "quote_job_id": .optional(quoteJobID),
            "created_at": time(createdAt), "updated_at": time(updatedAt),
        ]
    }

    /// The facts its payments are decided on, from its recorded transfers.
    func facts(on tx: Connection, threshold: Int) throws -> PurchaseDecision.Facts? {
        guard let amount, let expiresAt else { return nil }
        let transfers = try tx.query(CryptoQueries.transfersOf, [id]).map { row in
            PurchaseDecision.Transfer(id: try row.string("transfer_id"),
                                      amount: try BaseUnits(decimal: try row.string("amount_base_units")).orThrow("bad transfer amount"),
                                      confirmations: try row.int("confirmations"), live: try row.bool("live"),
                                      firstSeenAt: try row.date("first_seen_at"))
        }
        return PurchaseDecision.Facts(status: status, quoted: amount, expiresAt: expiresAt, covered: covered, transfers: transfers,
                                      threshold: threshold)
    }
}
