import Foundation

/// A calendar day in UTC (reward caps, activity and streaks count UTC days). Stored as days
/// since 1970-01-01; PostgreSQL's `date` reads and writes it as `YYYY-MM-DD`.
public struct UTCDay: Sendable, Hashable, Comparable, Strideable, CustomStringConvertible {
    public let daysSinceEpoch: Int

    public init(daysSinceEpoch: Int) { self.daysSinceEpoch = daysSinceEpoch }

    /// The UTC day `date` falls on.
    public init(_ date: Date) {
        daysSinceEpoch = Int((date.timeIntervalSince1970 / 86400).rounded(.down))
    }

    /// `2026-11-21` (also accepts a full ISO-8601 time, taking its UTC day). Nil when malformed.
    public init?(_ text: String) {
        guard let date = Timestamp.parse(text) else { return nil }
        self.init(date)
    }

    /// Midnight UTC at the start of the day.
    public var start: Date { Date(timeIntervalSince1970: Double(daysSinceEpoch) * 86400) }

    /// `YYYY-MM-DD`.
    public var iso: String { String(Timestamp.iso8601(start).prefix(10)) }

    public var description: String { iso }

    public static func < (a: UTCDay, b: UTCDay) -> Bool { a.daysSinceEpoch < b.daysSinceEpoch }

    public func distance(to other: UTCDay) -> Int { other.daysSinceEpoch - daysSinceEpoch }

    public func advanced(by n: Int) -> UTCDay { UTCDay(daysSinceEpoch: daysSinceEpoch + n) }
}
