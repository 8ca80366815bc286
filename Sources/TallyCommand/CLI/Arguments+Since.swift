import Foundation
import Support

extension Arguments {
    /// A `--since` value: ISO-8601 (`2026-12-01T00:00:00Z`) or a time ago (`24h`, `-30m`, `7d`:
    /// the sign is optional); nil when not given; a usage error (exit 2) otherwise.
    static func since(_ text: String?) throws -> Date? {
        guard let text else { return nil }
        if let date = Timestamp.parse(text) { return date }
        let ago = text.hasPrefix("-") ? String(text.dropFirst()) : text
        if let seconds = DurationText.parse(ago), seconds >= 0 { return Date().addingTimeInterval(-seconds) }
        throw CommandError.usage("--since takes ISO-8601 (2026-12-01T00:00:00Z) or a time ago (24h, -30m, 7d), got \"\(text.prefix(40))\"")
    }
}
