import Foundation
import Support

/// Rewards, streaks and referrals settings (docs/rewards-and-notifications.md), read once at start.
public struct RewardsSettings: Sendable, Equatable {
    /// `TALLY_REFERRAL_CREDITS`: what the referred user and the referrer each get.
    public var referralCredits: Int64
    /// `TALLY_STREAK_GRACE`: how long after midnight UTC a day's late actions are waited for.
    public var streakGrace: TimeInterval
    /// `TALLY_STREAK_MILESTONES` (`3=2,7=5,30=20`).
    public var streakMilestones: [StreakMilestone]

    /// Every setting at its default (no environment).
    public static let defaults = try! RewardsSettings(Environment([:]))  // no setting given: nothing to refuse

    public init(_ environment: Environment) throws {
        referralCredits = Int64(try environment.checkedInt("TALLY_REFERRAL_CREDITS", default: 10, in: 1...1_000_000_000))
        streakGrace = try environment.checkedDuration("TALLY_STREAK_GRACE", default: 3600)
        streakMilestones = try StreakMilestone.configured(environment)
    }
}
