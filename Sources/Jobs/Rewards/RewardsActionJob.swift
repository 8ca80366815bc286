import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// `rewards.action {"user_id", "action", "idempotency_key"}` (POST /v1/activity, job key
/// `activity:<user_id>:<key>`): grants the rule's credits within the day's cap and records the
/// action (the activity streaks count). Always `completed` when the args are well formed:
/// `{"action", "granted", "capped", "day", "earned_today", "daily_cap", "balance"}`, or a
/// refusal that changes nothing: `{"error": "unknown_action" | "reward_off" | "account_not_found"}`.
///
/// The day is the UTC day the action was accepted (the job's `created_at`), not the day a busy
/// queue got to it. The ledger reference is `reward:<user_id>:<key>` and the action row is keyed
/// by (user, key) for ever: a replay, even after its job was pruned, grants nothing more and
/// answers what the first run earned (`"replay": true`).
public struct RewardsActionJob: Job {
    public struct Args: Codable, Sendable {
        public let user_id: String
        public let action: String
        public let idempotency_key: String

        public init(user_id: String, action: String, idempotency_key: String) {
            self.user_id = user_id
            self.action = action
            self.idempotency_key = idempotency_key
        }
    }

    public static let kind = "rewards.action"

    public init() {}

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        if let problem = Self.problem(args) { throw JobError.permanent(problem) }
        let day = UTCDay(context.job.createdAt)
        let jobID = context.job.id
        return try await context.completeInTransaction { tx in
            try Self.apply(args, day: day, jobID: jobID, on: tx)
        }
    }

    /// Applies one action on `day` in `tx` (the job's transaction; tests call it directly).
    public static func apply(_ args: Args, day: UTCDay, jobID: Int64? = nil, on tx: Connection) throws -> JSON {
        guard let ruleRow = try tx.query(RewardsQueries.rule, [args.action]).first else {
            return ["error": "unknown_action", "action": .string(args.action)]
        }
        let rule = try RewardRule(row: ruleRow)
        guard rule.enabled else { return ["error": "reward_off", "action": .string(args.action)] }
        let book = LedgerBook(tx)
        try book.load([args.user_id])  // locks the account: this user's actions take turns
        guard book.hasAccount(args.user_id) else { return LedgerRefusal.accountNotFound.result(["user_id": .string(args.user_id)]) }

        if let previous = try tx.query(RewardsQueries.actionByKey, [args.user_id, args.idempotency_key]).first {
            try book.commit()
            return ["action": .string(try previous.string("action")), "granted": .int(try previous.int64("credits")),
                    "day": .string(try previous.string("day")), "replay": true, "balance": .int(try book.balance(of: args.user_id))]
        }
        let earned = try tx.query(RewardsQueries.earnedToday, [day.iso, args.user_id, args.action]).first?.int64("credits") ?? 0
        let credits = rule.credits(earnedToday: earned)
        if credits > 0 {
            try book.grant(NewGrant(userID: args.user_id, source: .reward, amount: credits,
                                    reference: "reward:\(args.user_id):\(args.idempotency_key)", kind: "reward",
                                    metadata: ["action": .string(args.action), "day": .string(day.iso)]))
        }
        try tx.query(RewardsQueries.recordAction, [args.user_id, args.idempotency_key, args.action, day.iso, credits, jobID])
        try book.commit()
        return ["action": .string(args.action), "granted": .int(credits), "capped": .bool(credits < rule.credits),
                "day": .string(day.iso), "earned_today": .int(earned + credits), "daily_cap": .int(rule.dailyCap),
                "balance": .int(try book.balance(of: args.user_id))]
    }

    /// What makes args unusable (the ingress checks the same; a job enqueued another way may not).
    static func problem(_ a: Args) -> String? {
        if a.user_id.isEmpty || a.user_id.utf8.count > 256 { return "user_id must be 1 to 256 bytes" }
        if a.action.isEmpty || a.action.utf8.count > 64 { return "action must be 1 to 64 bytes" }
        if a.idempotency_key.isEmpty || a.idempotency_key.utf8.count > 255 { return "idempotency_key must be 1 to 255 bytes" }
        return nil
    }
}
