import Foundation
import JobRuntime
import Postgres
import Support

/// `account.alerts {"user_id", "low_balance"}` (PUT /v1/accounts/{user_id}/alerts): sets the
/// account's own low-balance threshold (null: back to TALLY_LOW_BALANCE). Under the account's
/// lock, as every change of it. Result: `{user_id, low_balance}` or `account_not_found`.
public struct AccountAlertsJob: Job {
    public struct Args: Codable, Sendable {
        public let user_id: String
        public let low_balance: Int64?

        public init(user_id: String, low_balance: Int64?) {
            self.user_id = user_id
            self.low_balance = low_balance
        }

        /// `low_balance` is written even when null (null means "the default").
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(user_id, forKey: .user_id)
            try c.encode(low_balance, forKey: .low_balance)
        }
    }

    public static let kind = "account.alerts"

    public init() {}

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        guard Ledger.isValidUserID(args.user_id) else { throw JobError.permanent("user_id must be 1 to 256 bytes") }
        if let low = args.low_balance { try Ledger.checkCredits(low, "low_balance") }
        guard (args.low_balance ?? 0) >= 0 else { throw JobError.permanent("low_balance must be 0 or more") }
        return try await context.completeInTransaction { tx in
            let book = LedgerBook(tx)
            try book.load([args.user_id])
            guard book.hasAccount(args.user_id) else { return LedgerRefusal.accountNotFound.result() }
            guard let row = try tx.query(LedgerQueries.setLowBalance, [args.user_id, args.low_balance]).first else {
                return LedgerRefusal.accountNotFound.result()
            }
            return ["user_id": .string(try row.string("user_id")), "low_balance": .optional(try row.optInt64("low_balance"))]
        }
    }
}
