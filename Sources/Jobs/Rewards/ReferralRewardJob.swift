import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// `referral.reward {"user_id", "grant_id"}`: the referred user `user_id` paid (grant
/// `grant_id`, a top-up, subscription or crypto grant); the owner of the code they signed up
/// with and they each get `TALLY_REFERRAL_CREDITS` (default 10), once. Enqueued by the ledger
/// in the transaction of the payment's grant (`Referrals.paymentsGranted`).
///
/// Always `completed` when the args are well formed: `{"referrer", "referred", "credits",
/// "code", "uses"}` or a refusal that changes nothing: `{"error": "no_referral" |
/// "unknown_code" | "already_rewarded" | "self_referral" | "not_paid" | "code_exhausted" |
/// "account_not_found"}`. References `referral:<referred>` and `referral:<referrer>:<referred>`.
public struct ReferralRewardJob: Job {
    public struct Args: Codable, Sendable {
        public let user_id: String
        public let grant_id: Int64
    }

    public static let kind = "referral.reward"

    let settings: RewardsSettings

    public init(settings: RewardsSettings = .defaults) {
        self.settings = settings
    }

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let credits = settings.referralCredits
        guard credits > 0 else { throw JobError.permanent("TALLY_REFERRAL_CREDITS must be at least 1") }
        let jobID = context.job.id
        return try await context.completeInTransaction { tx in
            try Self.reward(args, credits: credits, jobID: jobID, on: tx)
        }
    }

    public static func reward(_ args: Args, credits: Int64, jobID: Int64? = nil, on tx: Connection) throws -> JSON {
        guard let account = try tx.query(RewardsQueries.referralOf, [args.user_id]).first else {
            return LedgerRefusal.accountNotFound.result(["user_id": .string(args.user_id)])
        }
        guard let given = try account.optString("referral_code") else { return ["error": "no_referral", "user_id": .string(args.user_id)] }
        let code = try tx.query(RewardsQueries.lockCode, [given]).first
        let referrer = try code?.string("user_id")
        let uses = try code?.int("uses") ?? 0
        let decision = ReferralEligibility.decide(
            referrer: referrer, referred: args.user_id, uses: uses, maxUses: try code?.int("max_uses") ?? 0,
            alreadyRewarded: try account.bool("rewarded"),
            hasPaid: try tx.query(RewardsQueries.paidGrant, [args.grant_id, args.user_id]).count == 1)
        if case .refused(let reason) = decision {
            var result: [String: JSON] = ["error": .string(reason), "user_id": .string(args.user_id), "code": .string(given)]
            if let referrer { result["referrer"] = .string(referrer) }
            if reason == "code_exhausted" { result["uses"] = .int(uses) }
            return .object(result)
        }
        let codeName = try code!.string("code")
        let book = LedgerBook(tx)
        try book.load([args.user_id, referrer!])
        let metadata: JSON = ["code": .string(codeName), "referrer": .string(referrer!), "referred": .string(args.user_id)]
        try book.grant(NewGrant(userID: args.user_id, source: .referral, amount: credits, reference: "referral:\(args.user_id)",
                                kind: "referral", metadata: metadata))
        try book.grant(NewGrant(userID: referrer!, source: .referral, amount: credits, reference: "referral:\(referrer!):\(args.user_id)",
                                kind: "referral", metadata: metadata))
        try tx.query(RewardsQueries.recordReferral, [args.user_id, referrer!, codeName, credits, jobID])
        try book.commit()
        return ["referrer": .string(referrer!), "referred": .string(args.user_id), "credits": .int(credits), "code": .string(codeName),
                "uses": .int(uses + 1)]
    }
}
