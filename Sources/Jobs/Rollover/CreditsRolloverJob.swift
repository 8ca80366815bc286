import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// `credits.rollover {}` or `{"as_of": ISO}`: settles each user's subscription and rollover
/// grants past their expiry, once (DESIGN.md, "The ledger" → Rollover; the arithmetic is
/// `RolloverRule`). Hourly by cron; safe at any time.
///
/// Per account, in one transaction with its batch: one `rollover.settle` entry writes off
/// what the due grants hold (reference `rollover:<user>:<lowest grant id>:settle`), then, unless
/// the subscription has ended, one `rollover` grant of up to the cap (reference
/// `rollover:<user>:<lowest grant id>`) expiring at the end of the next period. Every grant is
/// settled once, so the lowest grant id of a settlement names it for ever.
///
/// It fans out (`DueGrantFanOut`): the cron job enqueues batch jobs of `TALLY_ROLLOVER_BATCH`
/// (default 1,000) accounts; a million accounts roll over in parallel on every worker serving
/// the maintenance queue, and a crash or re-run never settles an account twice.
/// Planner result: `{"as_of", "accounts", "batches", "enqueued"}`; batch result:
/// `{"accounts", "rolled", "written_off", "ended"}` (credits rolled and written off).
///
/// Settings: `TALLY_ROLLOVER_CAP` (default: the `monthly` product's credits, else 250).
public struct CreditsRolloverJob: Job {
    public typealias Args = DueGrantFanOut.Args

    public static let kind = "credits.rollover"
    public static let queue = "maintenance"
    static let batch = 1000
    static let sources: [GrantSource] = [.subscription, .rollover]
    static let fanOut = DueGrantFanOut(kind: kind, queue: queue, sources: sources)

    let settings: LedgerSettings

    public init(settings: LedgerSettings = .defaults) {
        self.settings = settings
    }

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let fixedCap = settings.rolloverCap
        return try await Self.fanOut.run(args, batchSize: settings.rolloverBatch,
                                         context: context) { book, users, asOf, tx in
            let rule = RolloverRule(cap: try fixedCap ?? Self.monthlyAllowance(on: tx))
            return try Self.settle(users, asOf: asOf, rule: rule, in: book, on: tx).json
        }
    }

    static func monthlyAllowance(on tx: Connection) throws -> Int64 {
        try tx.query(RolloverQueries.monthlyAllowance).first?.int64("credits") ?? RolloverRule.defaultCap
    }

    /// What a subscription says about rollover.
    struct Subscription {
        let status: String
        let periodEnd: Date?
        let cancelAtPeriodEnd: Bool

        /// Ended (DESIGN.md: canceled, unpaid), or set to cancel at a period end that has come
        /// by `time` (the `customer.subscription.deleted` event may not have arrived yet).
        func hasEnded(by time: Date) -> Bool {
            if status == "canceled" || status == "unpaid" { return true }
            if cancelAtPeriodEnd, let end = periodEnd, end <= time { return true }
            return false
        }
    }

    struct Totals {
        var accounts = 0
        var rolled: Int64 = 0
        var writtenOff: Int64 = 0
        var ended = 0
        var json: JSON { ["accounts": .int(accounts), "rolled": .int(rolled), "written_off": .int(writtenOff), "ended": .int(ended)] }
    }

    /// Settles the due grants of `users` (loaded in `book`, in `tx`).
    static func settle(_ users: [String], asOf: Date, rule: RolloverRule, in book: LedgerBook, on tx: Connection) throws -> Totals {
        var subscriptions: [String: [Subscription]] = [:]
        if !users.isEmpty {
            for row in try tx.query(RolloverQueries.subscriptions, [users]) {
                subscriptions[try row.string("user_id"), default: []].append(Subscription(
                    status: try row.string("status"), periodEnd: try row.optDate("current_period_end"),
                    cancelAtPeriodEnd: try row.bool("cancel_at_period_end")))
            }
        }
        // Decide every account first, so the references are looked up and the new grants' ids
        // reserved in two queries for the batch rather than two per account.
        struct Decision {
            let user: String
            let due: [GrantRecord]
            let ended: Bool
            let plan: RolloverRule.Settlement
            let reference: String
            let metadata: JSON
        }
        var decisions: [Decision] = []
        for user in users where book.hasAccount(user) {
            let due = try DueGrantFanOut.dueGrants(of: user, in: book, sources: sources, asOf: asOf)
            guard let first = due.map(\.id).min(), let theirs = due.compactMap(\.expiresAt).max() else { continue }
            let others = try book.grants(of: user).filter { g in !due.contains { $0.id == g.id } }
            let liveRollover = others.filter { $0.source == .rollover && !$0.isExpired(at: asOf) }.reduce(0) { $0 + $1.remaining }
            let subs = subscriptions[user] ?? []
            // Ended when the user has subscriptions and every one has ended; no subscription
            // recorded (an operator's grant, a test) rolls like a live one.
            let ended = !subs.isEmpty && subs.allSatisfy { $0.hasEnded(by: theirs) }
            let periodEnds = others.filter { $0.source == .subscription }.compactMap(\.expiresAt)
                + subs.filter { !$0.hasEnded(by: theirs) }.compactMap(\.periodEnd)
            let plan = rule.settle(due: due.map { RolloverRule.DueGrant(remaining: $0.remaining, expiresAt: $0.expiresAt!) },
                                   liveRollover: liveRollover, ended: ended, knownPeriodEnds: periodEnds)
            let metadata: JSON = ["grants": .array(due.map { .int($0.id) }), "left": .int(plan.left), "rolled": .int(plan.rolled),
                                  "written_off": .int(plan.writtenOff), "cap": .int(rule.cap), "ended": .bool(ended),
                                  "expired_at": .string(Timestamp.iso8601(theirs))]
            decisions.append(Decision(user: user, due: due, ended: ended, plan: plan, reference: "rollover:\(user):\(first)", metadata: metadata))
        }
        try book.prefetch(references: decisions.flatMap { [$0.reference + ":settle", $0.reference] })
        try book.reserveGrantIDs(decisions.filter { $0.plan.rolled > 0 }.count)

        var totals = Totals()
        for d in decisions {
            guard try book.writeOff(WriteOff(userID: d.user, grantIDs: Set(d.due.map(\.id)), reference: d.reference + ":settle",
                                             kind: "rollover.settle", metadata: d.metadata)) != nil else { continue }
            if d.plan.rolled > 0, let expiry = d.plan.expiresAt {
                try book.grant(NewGrant(userID: d.user, source: .rollover, amount: d.plan.rolled, expiresAt: expiry, reference: d.reference,
                                        kind: "rollover", metadata: d.metadata))
            }
            totals.accounts += 1
            totals.rolled += d.plan.rolled
            totals.writtenOff += d.plan.writtenOff
            if d.ended { totals.ended += 1 }
        }
        return totals
    }
}
