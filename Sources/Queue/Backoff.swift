import Foundation

/// Retry delays: attempt⁴ seconds ± 10 % jitter, capped at 24 h, times a scale
/// (`TALLY_BACKOFF_SCALE`, default 1; tests set it small). Attempt 1 waits ~1 s, 2 ~16 s,
/// 3 ~81 s, 5 ~10 min, 10 ~2.8 h, 17 ~23 h, 18 and later 24 h: twenty attempts span about
/// 6 days, longer than BitGo (8 h) or Stripe (3 days) keep retrying their own deliveries.
public struct Backoff: Sendable, Equatable {
    public var scale: Double
    public static let cap: TimeInterval = 24 * 3600
    public static let jitter = 0.1

    public init(scale: Double = 1) {
        precondition(scale >= 0, "TALLY_BACKOFF_SCALE must not be negative")
        self.scale = scale
    }

    /// The delay before the next run after failed attempt number `attempt` (1-based).
    /// `unit` is a random value in [0, 1) that chooses the jitter.
    public func delay(afterAttempt attempt: Int, unit: Double) -> TimeInterval {
        let a = Double(max(attempt, 1))
        let base = min(a * a * a * a, Backoff.cap)
        let jittered = base * (1 + Backoff.jitter * (2 * unit - 1))
        return min(jittered, Backoff.cap) * scale
    }

    public func delay(afterAttempt attempt: Int) -> TimeInterval {
        delay(afterAttempt: attempt, unit: Double.random(in: 0..<1))
    }
}
