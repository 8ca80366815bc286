import Foundation
import Synchronization

/// A token bucket per API key, in memory (per ingress process): `rate` requests a second on
/// average, bursts of up to `burst`. Off when `rate` is 0 (the default).
public final class RateLimiter: Sendable {
    public let rate: Double
    public let burst: Double

    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    private let buckets = Mutex<[Int64: Bucket]>([:])

    public init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = max(1, burst)
    }

    public var enabled: Bool { rate > 0 }

    /// Takes a token for `key`; nil when allowed, else the whole seconds to wait for one.
    public func take(_ key: Int64, now: Double = RateLimiter.clock()) -> Int? {
        guard enabled else { return nil }
        return buckets.withLock { b -> Int? in
            var bucket = b[key] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                b[key] = bucket
                return nil
            }
            b[key] = bucket
            return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
        }
    }

    public static func clock() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
