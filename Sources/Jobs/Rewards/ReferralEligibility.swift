import Foundation

/// Whether a referred user's first payment rewards the code's owner and the user (DESIGN.md,
/// "Referrals"): once per referred user, never to oneself, at most `maxUses` rewards per code.
public enum ReferralEligibility: Sendable, Equatable {
    case eligible
    /// The refusal reasons a `referral.reward` job answers (its result's `error`).
    case refused(String)

    /// - Parameters:
    ///   - referrer: the code's owner, nil when the code is unknown.
    ///   - referred: the user whose payment triggers the reward.
    ///   - uses: rewards the code has given so far; `maxUses` the most it may give.
    ///   - alreadyRewarded: this referred user has been rewarded before.
    ///   - hasPaid: the referred user has a paid grant (top-up, subscription or crypto).
    public static func decide(referrer: String?, referred: String, uses: Int, maxUses: Int, alreadyRewarded: Bool,
                              hasPaid: Bool) -> ReferralEligibility {
        guard let referrer else { return .refused("unknown_code") }
        if alreadyRewarded { return .refused("already_rewarded") }
        if referrer == referred { return .refused("self_referral") }
        if !hasPaid { return .refused("not_paid") }
        if uses >= maxUses { return .refused("code_exhausted") }
        return .eligible
    }
}
