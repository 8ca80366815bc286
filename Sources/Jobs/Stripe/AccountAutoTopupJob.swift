import Foundation
import JobRuntime
import Postgres
import Support

/// `account.auto_topup {"user_id", "enabled", "threshold"?, "product"?, "monthly_limit_cents"?}`
/// (PUT /v1/accounts/{user_id}/auto-topup): stores the account's auto top-up (`AutoTopup.configure`).
public struct AccountAutoTopupJob: Job {
    public struct Args: Codable, Sendable {
        public let user_id: String
        public let enabled: Bool
        public let threshold: Int64?
        public let product: String?
        public let monthly_limit_cents: Int64?

        public init(user_id: String, enabled: Bool, threshold: Int64?, product: String?, monthly_limit_cents: Int64?) {
            self.user_id = user_id
            self.enabled = enabled
            self.threshold = threshold
            self.product = product
            self.monthly_limit_cents = monthly_limit_cents
        }
    }

    public static let kind = "account.auto_topup"

    public init() {}

    public func run(_ a: Args, context: JobContext) async throws -> JobResult {
        guard Ledger.isValidUserID(a.user_id) else { throw JobError.permanent("user_id must be 1 to 256 bytes") }
        if let t = a.threshold { guard t >= 0, t <= Ledger.maxCredits else { throw JobError.permanent("threshold must be 0 to \(Ledger.maxCreditsText)") } }
        if let l = a.monthly_limit_cents { guard l >= 0 else { throw JobError.permanent("monthly_limit_cents must be 0 or more") } }
        let setting = AutoTopup.Setting(enabled: a.enabled, threshold: a.threshold, product: a.product, monthlyLimitCents: a.monthly_limit_cents)
        do {
            return try await context.completeInTransaction { tx in try AutoTopup.configure(userID: a.user_id, setting, on: tx) }
        } catch let error as LedgerError {
            throw JobError.permanent(error.description)
        }
    }
}
