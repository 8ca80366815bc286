import Foundation

/// The arithmetic of one account's rollover settlement (DESIGN.md, "The ledger" → Rollover),
/// without a database.
///
/// A user's subscription and rollover grants past their expiry are settled together: unless
/// the subscription has ended, up to the cap of what they have left moves into one new
/// `rollover` grant that expires at the end of the period that follows theirs (their expiry
/// plus one month while that period is not yet known); the rest is written off. The cap holds
/// across months: rollover credits still live from another settlement count against it.
public struct RolloverRule: Sendable, Equatable {
    /// The most credits a user may carry into the next period (default one month's allowance, 250).
    public let cap: Int64

    public static let defaultCap: Int64 = 250

    public init(cap: Int64 = RolloverRule.defaultCap) {
        self.cap = cap
    }

    /// A grant being settled: what is left of it and when it expired.
    public struct DueGrant: Sendable, Equatable {
        public let remaining: Int64
        public let expiresAt: Date
        public init(remaining: Int64, expiresAt: Date) {
            self.remaining = remaining
            self.expiresAt = expiresAt
        }
    }

    public struct Settlement: Sendable, Equatable {
        /// What the due grants held in all.
        public let left: Int64
        /// Moves into the new rollover grant (0: no grant).
        public let rolled: Int64
        /// Written off.
        public let writtenOff: Int64
        /// The new grant's expiry (nil when nothing rolls).
        public let expiresAt: Date?
    }

    /// - Parameters:
    ///   - due: the subscription and rollover grants past their expiry, with something left.
    ///   - liveRollover: credits left in the user's other rollover grants, not yet expired.
    ///   - ended: the subscription has ended (canceled, unpaid): nothing rolls.
    ///   - knownPeriodEnds: period ends Tally knows of (later subscription grants' expiries, the
    ///     subscription's current period end); the first after the due grants' expiry is the
    ///     end of the period that follows theirs.
    public func settle(due: [DueGrant], liveRollover: Int64, ended: Bool, knownPeriodEnds: [Date]) -> Settlement {
        let left = due.reduce(0) { $0 + $1.remaining }
        guard !ended, let theirs = due.map(\.expiresAt).max() else {
            return Settlement(left: left, rolled: 0, writtenOff: left, expiresAt: nil)
        }
        let room = max(0, cap - max(0, liveRollover))
        let rolled = min(left, room)
        guard rolled > 0 else { return Settlement(left: left, rolled: 0, writtenOff: left, expiresAt: nil) }
        let next = knownPeriodEnds.filter { $0 > theirs }.min() ?? Self.oneMonth(after: theirs)
        return Settlement(left: left, rolled: rolled, writtenOff: left - rolled, expiresAt: next)
    }

    /// The same time one calendar month later, in UTC; the last day of a shorter month when the
    /// day does not exist there (Jan 31 → Feb 28 or 29), as Stripe bills month ends.
    public static func oneMonth(after date: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(byAdding: .month, value: 1, to: date)!
    }
}
