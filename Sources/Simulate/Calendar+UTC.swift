import Foundation

extension Calendar {
    /// The Gregorian calendar in UTC, as Tally adds a month to a period's end.
    static var utc: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }
}
