import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// `account.open {"user_id", "referral_code"?}`: creates the account once per user_id and
/// grants the signup trial (`TALLY_TRIAL_CREDITS`, default 5; expiring after
/// `TALLY_TRIAL_DURATION`, default 14d; 0 credits: no trial). The referral code is stored on
/// the account for the referral program.
///
/// The trial comes only with the account's creation here: an account a payment opened first
/// (DESIGN.md: "opens the account without the trial") does not get one later.
/// Result: `{"user_id", "opened": Bool, "trial": N, "balance": N}`.
public struct AccountOpenJob: Job {
    public struct Args: Codable, Sendable {
        public let user_id: String
        public let referral_code: String?

        public init(user_id: String, referral_code: String? = nil) {
            self.user_id = user_id
            self.referral_code = referral_code
        }
    }

    public static let kind = "account.open"

    let settings: LedgerSettings

    public init(settings: LedgerSettings = .defaults) {
        self.settings = settings
    }

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let trial = settings.trialCredits
        let lifetime = settings.trialDuration
        do {
            return try await context.completeInTransaction { tx in
                try Self.open(args, trialCredits: trial, trialLifetime: lifetime, on: tx)
            }
        } catch let error as LedgerError {
            throw JobError.permanent(error.description)
        }
    }

    static func open(_ args: Args, trialCredits: Int64, trialLifetime: TimeInterval, on tx: Connection) throws -> JSON {
        let created = try Ledger.openAccount(args.user_id, referralCode: args.referral_code, openedBy: .signup, on: tx)
        let book = LedgerBook(tx)
        try book.load([args.user_id])
        var granted: Int64 = 0
        if created && trialCredits > 0 {
            try book.grant(NewGrant(userID: args.user_id, source: .trial, amount: trialCredits,
                                    expiresAt: book.now.addingTimeInterval(trialLifetime), reference: "trial:\(args.user_id)"))
            granted = trialCredits
        }
        let balance = try book.balance(of: args.user_id)
        try book.commit()
        return ["user_id": .string(args.user_id), "opened": .bool(created), "trial": .int(granted), "balance": .int(balance)]
    }
}
