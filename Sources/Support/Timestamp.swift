import Foundation

/// Time as Tally writes and reads it: ISO-8601 UTC in the API and the command, PostgreSQL's
/// ISO output (`2026-11-21 15:41:00.123456+00`, the session runs with `TimeZone=UTC`) from the
/// database. Hand-written because `ISO8601DateFormatter` costs ~10 µs a call and is not
/// `Sendable`; these run on every row read.
public enum Timestamp {
    /// `2026-11-21T15:41:00.123Z` (milliseconds, UTC).
    public static func iso8601(_ date: Date) -> String {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded(.down)
        return iso8601(epochMicros: Int64(micros), fractionDigits: 3)
    }

    /// `2026-11-21T15:41:00.123456Z` with microseconds, the precision PostgreSQL keeps.
    public static func iso8601Micros(_ date: Date) -> String {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        return iso8601(epochMicros: Int64(micros), fractionDigits: 6)
    }

    public static func iso8601(epochMicros: Int64, fractionDigits: Int) -> String {
        var seconds = epochMicros / 1_000_000
        var micros = epochMicros % 1_000_000
        if micros < 0 { micros += 1_000_000; seconds -= 1 }
        var t = time_t(seconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        var s = pad(Int(tm.tm_year) + 1900, 4) + "-" + pad(Int(tm.tm_mon) + 1, 2) + "-" + pad(Int(tm.tm_mday), 2)
        s += "T" + pad(Int(tm.tm_hour), 2) + ":" + pad(Int(tm.tm_min), 2) + ":" + pad(Int(tm.tm_sec), 2)
        if fractionDigits > 0 {
            var divisor = 1
            for _ in 0..<(6 - fractionDigits) { divisor *= 10 }
            s += "." + pad(Int(micros) / divisor, fractionDigits)
        }
        return s + "Z"
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// Parses ISO-8601 (`T` or space between date and time; `Z`, `+00`, `+00:00`, `+0530`
    /// offsets; optional fraction; a bare date means midnight UTC). Nil when malformed.
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        var i = 0
        func number(_ count: Int) -> Int? {
            guard i + count <= b.count else { return nil }
            var v = 0
            for k in 0..<count {
                let c = b[i + k]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            i += count
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2) else { return nil }
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        var hour = 0, minute = 0, second = 0
        var micros = 0
        var offsetSeconds = 0
        if i < b.count {
            guard b[i] == 84 || b[i] == 32 || b[i] == 116 else { return nil }  // 'T', ' ', 't'
            i += 1
            guard let h = number(2), expect(58), let m = number(2) else { return nil }
            hour = h; minute = m
            if expect(58) {
                guard let s = number(2) else { return nil }
                second = s
                if expect(46) {
                    var digits = 0
                    while i < b.count, b[i] >= 48, b[i] <= 57 {
                        if digits < 6 { micros = micros * 10 + Int(b[i] - 48) }
                        digits += 1
                        i += 1
                    }
                    guard digits > 0 else { return nil }
                    for _ in digits..<6 where digits < 6 { micros *= 10 }
                }
            }
            guard hour < 24, minute < 60, second < 61 else { return nil }
            if i < b.count {
                if b[i] == 90 || b[i] == 122 {  // 'Z'
                    i += 1
                } else if b[i] == 43 || b[i] == 45 {  // '+' '-'
                    let sign = b[i] == 45 ? -1 : 1
                    i += 1
                    guard let oh = number(2) else { return nil }
                    var om = 0
                    if expect(58) {
                        guard let m = number(2) else { return nil }
                        om = m
                    } else if let m = number(2) {
                        om = m
                    }
                    offsetSeconds = sign * (oh * 3600 + om * 60)
                } else {
                    return nil
                }
            }
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let epoch = Int64(days) * 86400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return Date(timeIntervalSince1970: Double(epoch) + Double(micros) / 1_000_000)
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm), valid for the proleptic Gregorian calendar.
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// Parses `--at` style times: ISO-8601, or `+30s` / `+5m` / `+2h` / `+1d` relative to `now`.
    public static func parseAt(_ text: String, now: Date = Date()) -> Date? {
        if text.hasPrefix("+") {
            guard let d = DurationText.parse(String(text.dropFirst())) else { return nil }
            return now.addingTimeInterval(d)
        }
        return parse(text)
    }
}
