import Foundation

/// Where a grant's credits came from (DESIGN.md, "The ledger"). The database checks the same list.
public enum GrantSource: String, Sendable, CaseIterable, Codable {
    case trial, subscription, topup, crypto, reward, streak, referral, rollover, adjustment
    /// Credits another user sent (a transfer keeps each credit's expiry).
    case transfer

    /// Promotional credits are spent before paid ones that expire at the same time.
    public var isPromotional: Bool {
        switch self {
        case .trial, .reward, .streak, .referral: true
        default: false
        }
    }
}

/// A grant as the ledger holds it while an account is locked.
public struct GrantRecord: Sendable, Equatable {
    public let id: Int64
    public let userID: String
    public let source: GrantSource
    public let amount: Int64
    public internal(set) var remaining: Int64
    /// nil: never expires.
    public let expiresAt: Date?
    public let paymentID: Int64?

    /// True when the grant can no longer be spent at `now` (its expiry has come).
    public func isExpired(at now: Date) -> Bool {
        guard let expiresAt else { return false }
        return expiresAt <= now
    }

    /// The consumption order (DESIGN.md): soonest expiry first, never-expiring last;
    /// promotional (trial, reward, streak, referral) before paid at the same expiry; then the
    /// oldest (ids grow with time).
    public static func spendsBefore(_ a: GrantRecord, _ b: GrantRecord) -> Bool {
        switch (a.expiresAt, b.expiresAt) {
        case let (x?, y?) where x != y: return x < y
        case (nil, .some): return false
        case (.some, nil): return true
        default: break
        }
        if a.source.isPromotional != b.source.isPromotional { return a.source.isPromotional }
        return a.id < b.id
    }
}
