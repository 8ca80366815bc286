import Foundation
import Postgres
import Support

/// What one app action earns (DESIGN.md, "Rewards"): `credits` per action, at most
/// `dailyCap` credits per user, per action, per UTC day. `tally rewards set` changes it.
public struct RewardRule: Sendable, Equatable {
    public let action: String
    public let credits: Int64
    public let dailyCap: Int64
    public let enabled: Bool

    public init(action: String, credits: Int64, dailyCap: Int64, enabled: Bool = true) {
        self.action = action
        self.credits = credits
        self.dailyCap = dailyCap
        self.enabled = enabled
    }

    /// The credits one more action earns when `earnedToday` were already earned by this action
    /// today: the rule's credits, cut so the day's total never passes the cap (an action that
    /// would cross it grants up to the cap; once there, nothing).
    public func credits(earnedToday: Int64) -> Int64 {
        max(0, min(credits, dailyCap - earnedToday))
    }

    /// Action names: lowercase letters, digits, `_`, `.`, `-`; a letter first; at most 64
    /// (the database checks the same).
    public static func validAction(_ name: String) -> Bool {
        let b = Array(name.utf8)
        guard (1...64).contains(b.count), b[0] >= 97, b[0] <= 122 else { return false }
        return b.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 || $0 == 46 || $0 == 45 }
    }

    init(row: Row) throws {
        self.init(action: try row.string("action"), credits: try row.int64("credits"), dailyCap: try row.int64("daily_cap"),
                  enabled: try row.bool("enabled"))
    }

    public var json: JSON {
        ["action": .string(action), "credits": .int(credits), "daily_cap": .int(dailyCap), "enabled": .bool(enabled)]
    }
}
