import Foundation
import Support

/// A schedule in five-field cron syntax (minute hour day-of-month month day-of-week, UTC), a
/// macro (`@hourly`, `@daily`, `@midnight`, `@weekly`, `@monthly`, `@yearly`, `@annually`) or
/// `@every <duration>` (occurrences at whole multiples of the duration since the Unix epoch,
/// so every worker computes the same ones).
///
/// Fields take `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`, and names
/// (`jan`–`dec`, `sun`–`sat`; day-of-week 0 and 7 are Sunday). When both day fields are
/// restricted, a day matches either (Vixie cron).
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    enum Spec: Sendable, Equatable {
        case fields(minutes: UInt64, hours: UInt64, days: UInt64, months: UInt64, weekdays: UInt64,
                    daysRestricted: Bool, weekdaysRestricted: Bool)
        case every(seconds: Int64)
    }

    let spec: Spec
    public let text: String

    public var description: String { text }

    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public init(_ text: String) throws {
        self.text = text
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let macros = [
            "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
            "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
        ]
        if trimmed.hasPrefix("@every ") {
            let d = trimmed.dropFirst(7).trimmingCharacters(in: .whitespaces)
            guard let seconds = DurationText.parse(d), seconds >= 1, seconds == seconds.rounded() else {
                throw ParseError(description: "\"\(text)\": @every takes a whole number of seconds, at least 1s (e.g. @every 30s, @every 5m)")
            }
            spec = .every(seconds: Int64(seconds))
            return
        }
        let expanded = macros[trimmed.lowercased()] ?? trimmed
        let parts = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard parts.count == 5 else {
            throw ParseError(description: "\"\(text)\": expected five fields (minute hour day-of-month month day-of-week), a macro such as @hourly, or @every <duration>")
        }
        let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        let days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        let minute = try Self.field(parts[0], "minute", 0...59, names: [:])
        let hour = try Self.field(parts[1], "hour", 0...23, names: [:])
        let dom = try Self.field(parts[2], "day-of-month", 1...31, names: [:])
        let month = try Self.field(parts[3], "month", 1...12,
                                   names: Dictionary(uniqueKeysWithValues: months.enumerated().map { ($1, $0 + 1) }))
        var dow = try Self.field(parts[4], "day-of-week", 0...7,
                                 names: Dictionary(uniqueKeysWithValues: days.enumerated().map { ($1, $0) }))
        if dow.mask & (1 << 7) != 0 { dow.mask = (dow.mask | 1) & ~(1 << 7) }
        spec = .fields(minutes: minute.mask, hours: hour.mask, days: dom.mask, months: month.mask, weekdays: dow.mask,
                       daysRestricted: !dom.star, weekdaysRestricted: !dow.star)
    }

    private static func field(_ text: String, _ name: String, _ range: ClosedRange<Int>, names: [String: Int]) throws -> (mask: UInt64, star: Bool) {
        func value(_ s: Substring) throws -> Int {
            if let n = Int(s), range.contains(n) { return n }
            if let n = names[s.lowercased()] { return n }
            throw ParseError(description: "\(name) field: \"\(s)\" is not in \(range.lowerBound)-\(range.upperBound)")
        }
        var mask: UInt64 = 0
        // As in Vixie cron, a field starting with "*" (also "*/2") counts as unrestricted.
        let star = text.hasPrefix("*")
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw ParseError(description: "\(name) field: empty list item in \"\(text)\"") }
            let stepParts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard stepParts.count <= 2 else { throw ParseError(description: "\(name) field: \"\(item)\" has two steps") }
            var step = 1
            if stepParts.count == 2 {
                guard let s = Int(stepParts[1]), s > 0 else { throw ParseError(description: "\(name) field: bad step in \"\(item)\"") }
                step = s
            }
            let base = stepParts[0]
            var lo: Int, hi: Int
            if base == "*" {
                lo = range.lowerBound
                hi = range.upperBound
            } else if let dash = base.firstIndex(of: "-") {
                lo = try value(base[..<dash])
                hi = try value(base[base.index(after: dash)...])
                guard lo <= hi else { throw ParseError(description: "\(name) field: range \"\(base)\" runs backwards") }
            } else {
                lo = try value(base)
                hi = stepParts.count == 2 ? range.upperBound : lo
            }
            var v = lo
            while v <= hi {
                mask |= 1 << UInt64(v)
                v += step
            }
        }
        return (mask, star)
    }

    // MARK: Occurrences

    /// The first occurrence strictly after `date`.
    public func next(after date: Date) -> Date {
        let t = Int64(date.timeIntervalSince1970.rounded(.down))
        switch spec {
        case .every(let s):
            return Date(timeIntervalSince1970: Double((floorDiv(t, s) + 1) * s))
        case .fields:
            var m = floorDiv(t, 60) + 1
            for _ in 0..<200_000 {
                let c = CivilMinute(m)
                if !matchesMonth(c.month) { m = CivilMinute.firstMinute(year: c.month == 12 ? c.year + 1 : c.year, month: c.month % 12 + 1); continue }
                if !matchesDay(c) { m = (c.days + 1) * 1440; continue }
                if !matchesHour(c.hour) { m = c.days * 1440 + Int64(c.hour + 1) * 60; continue }
                if !matchesMinute(c.minute) { m += 1; continue }
                return Date(timeIntervalSince1970: Double(m * 60))
            }
            return Date.distantFuture  // an expression that never matches (e.g. 31 Feb)
        }
    }

    /// The last occurrence at or before `date`.
    public func previous(atOrBefore date: Date) -> Date {
        let t = Int64(date.timeIntervalSince1970.rounded(.down))
        switch spec {
        case .every(let s):
            return Date(timeIntervalSince1970: Double(floorDiv(t, s) * s))
        case .fields:
            var m = floorDiv(t, 60)
            for _ in 0..<200_000 {
                let c = CivilMinute(m)
                if !matchesMonth(c.month) { m = CivilMinute.firstMinute(year: c.year, month: c.month) - 1; continue }
                if !matchesDay(c) { m = c.days * 1440 - 1; continue }
                if !matchesHour(c.hour) { m = c.days * 1440 + Int64(c.hour) * 60 - 1; continue }
                if !matchesMinute(c.minute) { m -= 1; continue }
                return Date(timeIntervalSince1970: Double(m * 60))
            }
            return Date.distantPast
        }
    }

    private func matchesMonth(_ month: Int) -> Bool {
        guard case .fields(_, _, _, let months, _, _, _) = spec else { return true }
        return months & (1 << UInt64(month)) != 0
    }

    private func matchesDay(_ c: CivilMinute) -> Bool {
        guard case .fields(_, _, let days, _, let weekdays, let dr, let wr) = spec else { return true }
        let dom = days & (1 << UInt64(c.day)) != 0
        let dow = weekdays & (1 << UInt64(c.weekday)) != 0
        if dr && wr { return dom || dow }
        return dom && dow
    }

    private func matchesHour(_ hour: Int) -> Bool {
        guard case .fields(_, let hours, _, _, _, _, _) = spec else { return true }
        return hours & (1 << UInt64(hour)) != 0
    }

    private func matchesMinute(_ minute: Int) -> Bool {
        guard case .fields(let minutes, _, _, _, _, _, _) = spec else { return true }
        return minutes & (1 << UInt64(minute)) != 0
    }
}

private func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

/// A minute since the epoch split into UTC calendar fields.
struct CivilMinute {
    let days: Int64
    let year: Int, month: Int, day: Int, hour: Int, minute: Int, weekday: Int

    init(_ minutes: Int64) {
        days = floorDiv(minutes, 1440)
        let inDay = Int(minutes - days * 1440)
        hour = inDay / 60
        minute = inDay % 60
        // Howard Hinnant's civil_from_days.
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = Int(doy - (153 * mp + 2) / 5 + 1)
        month = Int(mp < 10 ? mp + 3 : mp - 9)
        year = Int(yoe + era * 400) + (month <= 2 ? 1 : 0)
        weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday (4)
    }

    static func firstMinute(year: Int, month: Int) -> Int64 {
        Int64(Timestamp.daysFromCivil(year: year, month: month, day: 1)) * 1440
    }
}
