import Foundation
import Support

/// A streak length that pays (DESIGN.md, "Streaks": 3 days → 2 credits, 7 → 5, 30 → 20),
/// each once per streak. `TALLY_STREAK_MILESTONES` (`3=2,7=5,30=20`) changes them.
public struct StreakMilestone: Sendable, Equatable, Hashable {
    public let days: Int
    public let credits: Int64

    public init(days: Int, credits: Int64) {
        self.days = days
        self.credits = credits
    }

    public static let defaults = [StreakMilestone(days: 3, credits: 2), StreakMilestone(days: 7, credits: 5),
                                  StreakMilestone(days: 30, credits: 20)]

    /// Parses `3=2,7=5,30=20` (days=credits, days at least 1, credits at least 1), sorted by days.
    public static func parse(_ text: String) throws -> [StreakMilestone] {
        var out: [StreakMilestone] = []
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=")
            guard parts.count == 2, let days = Int(parts[0].trimmingCharacters(in: .whitespaces)), days >= 1,
                  let credits = Int64(parts[1].trimmingCharacters(in: .whitespaces)), credits >= 1 else {
                throw ConfigurationError(setting: "TALLY_STREAK_MILESTONES",
                                         purpose: "streaks.evaluate (DAYS=CREDITS pairs such as 3=2,7=5,30=20; got \"\(item)\")")
            }
            guard !out.contains(where: { $0.days == days }) else {
                throw ConfigurationError(setting: "TALLY_STREAK_MILESTONES", purpose: "streaks.evaluate (\(days) days given twice)")
            }
            out.append(StreakMilestone(days: days, credits: credits))
        }
        return out.sorted { $0.days < $1.days }
    }

    /// The milestones from the environment, else the defaults.
    public static func configured(_ environment: Environment) throws -> [StreakMilestone] {
        guard let text = environment["TALLY_STREAK_MILESTONES"] else { return defaults }
        return try parse(text)
    }
}
