import Foundation

/// Durations written for people: `500ms`, `30s`, `5m`, `2h`, `1d`, and sums like `1h30m`.
public enum DurationText {
    /// Seconds, or nil when the text is not a positive duration. A number may have a fraction
    /// (`0.5s`, `1.5h`).
    public static func parse(_ text: String) -> TimeInterval? {
        var total: Double = 0
        var number = 0
        var fraction: Double = 0
        var scale: Double = 0   // 0: no decimal point yet; else the place value of the next digit
        var haveDigits = false
        var sawUnit = false
        let chars = Array(text.utf8)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c >= 48 && c <= 57 {
                if scale > 0 {
                    fraction += Double(c - 48) * scale
                    scale /= 10
                } else {
                    let (n, overflow) = number.multipliedReportingOverflow(by: 10)
                    guard !overflow else { return nil }
                    number = n + Int(c - 48)
                }
                haveDigits = true
                i += 1
                continue
            }
            if c == UInt8(ascii: "."), haveDigits, scale == 0 {
                scale = 0.1
                i += 1
                guard i < chars.count, chars[i] >= 48 && chars[i] <= 57 else { return nil }
                continue
            }
            guard haveDigits else { return nil }
            let unit: Double
            if c == UInt8(ascii: "m"), i + 1 < chars.count, chars[i + 1] == UInt8(ascii: "s") {
                unit = 0.001
                i += 2
            } else {
                switch c {
                case UInt8(ascii: "s"): unit = 1
                case UInt8(ascii: "m"): unit = 60
                case UInt8(ascii: "h"): unit = 3600
                case UInt8(ascii: "d"): unit = 86400
                default: return nil
                }
                i += 1
            }
            total += (Double(number) + fraction) * unit
            number = 0
            fraction = 0
            scale = 0
            haveDigits = false
            sawUnit = true
        }
        guard sawUnit, !haveDigits, total > 0 else { return nil }
        return total
    }

    /// `90` → `1m30s`, for messages and tables.
    public static func format(_ seconds: TimeInterval) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        var s = Int(seconds.rounded())
        var out = ""
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60)] where s >= size {
            out += "\(s / size)\(unit)"
            s %= size
        }
        if s > 0 || out.isEmpty { out += "\(s)s" }
        return out
    }
}
