import Foundation
import Support

/// Formats times in tables: ISO-8601 without fractions, and ages like "3m".
enum Show {
    static func time(_ date: Date?) -> String {
        guard let date else { return "-" }
        return String(Timestamp.iso8601(date).prefix(19)) + "Z"
    }

    static func age(_ date: Date?, now: Date = Date()) -> String {
        guard let date else { return "-" }
        let s = now.timeIntervalSince(date)
        return s < 0 ? "in " + DurationText.format(-s) : DurationText.format(s) + " ago"
    }

    static func parseIDs(_ words: [String]) throws -> [Int64] {
        try words.map { w in
            guard let id = Int64(w), id > 0 else { throw CommandError.usage("job ids are positive integers, got \"\(w)\"") }
            return id
        }
    }
}
