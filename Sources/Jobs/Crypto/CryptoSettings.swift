import Foundation
import Support

/// The crypto settings (docs/crypto.md, "Configuration"), read once when the registry is built
/// (a bad value stops the worker at start, naming it). Everything has a default except the
/// outside services' URLs and credentials, which `BitGo` and `CoinGecko` require when a job
/// needs them.
public struct CryptoSettings: Sendable, Equatable {
    /// How long a quote can be paid (DESIGN.md: 30 minutes).
    public var quoteLifetime: TimeInterval
    /// The oldest price a quote may use (DESIGN.md: 5 minutes).
    public var priceMaxAge: TimeInterval
    /// Confirmations that make a payment count, per coin (DESIGN.md: BTC 3, ETH 64).
    public var confirmations: [Coin: Int]
    public var poll: PollSchedule

    /// Every setting at its default (no environment).
    public static let defaults = try! CryptoSettings(Environment([:]))  // no setting given: nothing to refuse

    public init(_ environment: Environment) throws {
        quoteLifetime = try environment.checkedDuration("TALLY_CRYPTO_QUOTE_TTL", default: 30 * 60, minimum: 1)
        priceMaxAge = try environment.checkedDuration("TALLY_CRYPTO_PRICE_MAX_AGE", default: 5 * 60, minimum: 1)
        var c: [Coin: Int] = [:]
        for coin in Coin.allCases {
            c[coin] = try environment.checkedInt(coin.confirmationsSetting, default: coin.defaultConfirmations, in: 1...10_000)
        }
        confirmations = c
        poll = PollSchedule(first: try environment.checkedDuration("TALLY_CRYPTO_POLL_FIRST", default: 60, minimum: 0.001),
                            maximum: try environment.checkedDuration("TALLY_CRYPTO_POLL_MAX", default: 15 * 60, minimum: 0.001),
                            horizon: try environment.checkedDuration("TALLY_CRYPTO_POLL_HORIZON", default: 24 * 3600),
                            batch: try environment.checkedInt("TALLY_CRYPTO_POLL_BATCH", default: 100, in: 1...100_000))
    }

    public func threshold(_ coin: Coin) -> Int { confirmations[coin] ?? coin.defaultConfirmations }
}

/// When `crypto.poll` looks at a purchase again: a webhook can be missed (BitGo gives up
/// after about 8 hours of retries), so every purchase that can still change is re-checked on
/// its own schedule, which backs off: `first`, then doubling, at most `maximum` apart. A
/// status change starts the schedule again. An unpaid quote is looked at once more when it
/// expires (and expired then); purchases that expired or are underpaid are watched for
/// `horizon` after the expiry (money may still arrive), then left alone.
public struct PollSchedule: Sendable, Equatable {
    public var first: TimeInterval
    public var maximum: TimeInterval
    public var horizon: TimeInterval
    /// Purchases one poll run looks at, the most overdue first.
    public var batch: Int

    public init(first: TimeInterval, maximum: TimeInterval, horizon: TimeInterval, batch: Int) {
        self.first = first
        self.maximum = max(first, maximum)
        self.horizon = horizon
        self.batch = batch
    }

    /// The wait after `checks` looks without a status change: first × 2^checks, capped.
    public func delay(afterChecks checks: Int) -> TimeInterval {
        var d = first
        for _ in 0..<min(max(checks, 0), 40) where d < maximum { d *= 2 }
        return min(d, maximum)
    }

    /// Whether the poll still watches a purchase in `status`.
    public func watches(_ status: PurchaseStatus, expiresAt: Date?, now: Date) -> Bool {
        switch status {
        case .awaitingPayment, .confirming: return true
        case .underpaid, .expired:
            guard let expiresAt else { return false }
            return now < expiresAt.addingTimeInterval(horizon)
        case .quoting, .paid, .overpaid, .late, .failed, .reversed: return false
        }
    }

    /// The next look, or nil when the purchase is no longer watched. An unpaid quote is never
    /// looked at later than its expiry, so it expires on time.
    public func nextCheck(_ status: PurchaseStatus, expiresAt: Date?, checks: Int, now: Date) -> Date? {
        guard watches(status, expiresAt: expiresAt, now: now) else { return nil }
        var next = now.addingTimeInterval(delay(afterChecks: checks))
        if status == .awaitingPayment, let expiresAt, expiresAt > now, expiresAt < next { next = expiresAt }
        return next
    }
}
