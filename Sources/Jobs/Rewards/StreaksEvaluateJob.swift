import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// `streaks.evaluate {}` or `{"as_of": ISO}`: daily by cron (UTC). Applies every UTC day not yet
/// evaluated, up to the last day that has ended at `as_of` (default now): an active day
/// extends each active user's streak (or starts one), a day without activity breaks a live
/// streak, and milestones reached pay credits (`streak` grants, once per streak).
///
/// Exactly once per day and per user: each user's row records the last day applied to it, and
/// a finished day is recorded in `streak_days`. Users are taken 1,000 at a time, each page in
/// its own transaction, so a crash resumes where it stopped and a million users never sit in
/// one transaction. Before a day is evaluated, rewards.action jobs accepted that day that are
/// still queued get `TALLY_STREAK_GRACE` (default 1h after midnight) to run: the job snoozes
/// meanwhile. Result: `{"days": [{"day", "active", "extended", "started", "broken",
/// "milestones", "credits"}]}`.
public struct StreaksEvaluateJob: Job {
    public struct Args: Codable, Sendable {
        public let as_of: String?
    }

    public static let kind = "streaks.evaluate"
    public static let queue = "maintenance"
    public static let timeout: TimeInterval = 3600
    static let pageSize = 1000
    /// The most days one run catches up when none was ever evaluated.
    static let firstRunDays = 62

    let settings: RewardsSettings

    public init(settings: RewardsSettings = .defaults) {
        self.settings = settings
    }

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        var asOf = Date()
        if let text = args.as_of {
            guard let d = Timestamp.parse(text) else { throw JobError.permanent("as_of is not an ISO-8601 time: \(text)") }
            asOf = d
        }
        let milestones = settings.streakMilestones
        let grace = settings.streakGrace
        let through = UTCDay(asOf).advanced(by: -1)
        let days = try await context.pool.withConnection { try Self.daysToEvaluate(through: through, on: $0) }
        var results: [JSON] = []
        for day in days {
            if try await Self.shouldWait(for: day, grace: grace, pool: context.pool) {
                Log.info("streaks.evaluate waits for queued rewards.action jobs", ["day": day.iso])
                return .snooze(30)
            }
            let stats = try await Self.evaluate(day: day, milestones: milestones, pool: context.pool)
            results.append(stats.json(day: day))
            Log.info("streaks evaluated", ["day": day.iso, "active": stats.active, "broken": stats.broken, "milestones": stats.milestones])
        }
        return .completed(["days": .array(results), "through": .string(through.iso)])
    }

    /// The days after the last evaluated one, up to `through` (on a first run: from the first
    /// recorded activity, at most `firstRunDays` back).
    static func daysToEvaluate(through: UTCDay, on c: Connection) throws -> [UTCDay] {
        let start: UTCDay
        if let last = try c.query(RewardsQueries.lastEvaluatedDay).first?.optString("day").flatMap(UTCDay.init) {
            start = last.advanced(by: 1)
        } else if let first = try c.query(RewardsQueries.firstActivityDay).first?.optString("day").flatMap(UTCDay.init) {
            start = max(first, through.advanced(by: -(firstRunDays - 1)))
        } else {
            start = through
        }
        guard start <= through else { return [] }
        return Array(start...through)
    }

    /// True while actions accepted up to the end of `day` are still queued and the grace period
    /// after that midnight has not run out.
    static func shouldWait(for day: UTCDay, grace: TimeInterval, pool: ConnectionPool) async throws -> Bool {
        let end = day.advanced(by: 1).start
        guard Date() < end.addingTimeInterval(grace) else { return false }
        return try await pool.withConnection { try $0.query(RewardsQueries.pendingActions, [end]).first?.bool("pending") ?? false }
    }

    struct DayStats: Sendable {
        var active = 0, extended = 0, started = 0, broken = 0, milestones = 0
        var credits: Int64 = 0

        mutating func add(_ o: DayStats) {
            active += o.active; extended += o.extended; started += o.started; broken += o.broken
            milestones += o.milestones; credits += o.credits
        }

        func json(day: UTCDay) -> JSON {
            ["day": .string(day.iso), "active": .int(active), "extended": .int(extended), "started": .int(started),
             "broken": .int(broken), "milestones": .int(milestones), "credits": .int(credits)]
        }
    }

    /// Applies `day` to every user it changes, a page at a time, then records the day.
    static func evaluate(day: UTCDay, milestones: [StreakMilestone], pool: ConnectionPool) async throws -> DayStats {
        var total = DayStats()
        var after = ""
        while true {
            let cursor = after
            let (stats, last) = try await pool.transaction { tx in
                try evaluatePage(day: day, after: cursor, limit: pageSize, milestones: milestones, on: tx)
            }
            total.add(stats)
            guard let last else { break }
            after = last
        }
        let t = total
        try await pool.withConnection { c in
            _ = try c.query(RewardsQueries.recordStreakDay, [day.iso, t.active, t.extended, t.started, t.broken, t.milestones, t.credits])
        }
        return total
    }

    /// One page of users after `after`, in `tx`. Returns its counts and the page's last user
    /// (nil when there were no more users).
    static func evaluatePage(day: UTCDay, after: String, limit: Int, milestones: [StreakMilestone],
                             on tx: Connection) throws -> (DayStats, String?) {
        try tx.query(RewardsQueries.streakLock)
        let candidates = try tx.query(RewardsQueries.streakCandidates, [day.iso, after, limit]).map {
            (try $0.string("user_id"), try $0.bool("active"))
        }
        guard let last = candidates.last?.0 else { return (DayStats(), nil) }
        var states: [String: StreakState] = [:]
        for row in try tx.query(RewardsQueries.lockStreaks, [candidates.map(\.0)]) {
            states[try row.string("user_id")] = try StreakState(row: row)
        }
        var stats = DayStats()
        var changed: [(String, StreakState)] = []
        var payouts: [(String, UTCDay, StreakMilestone)] = []
        for (user, active) in candidates {
            let (next, change, paid) = (states[user] ?? StreakState()).applying(day: day, active: active, milestones: milestones)
            if active && change != .unchanged { stats.active += 1 }
            switch change {
            case .unchanged, .idle: continue
            case .started: stats.started += 1
            case .extended: stats.extended += 1
            case .broken: stats.broken += 1
            }
            changed.append((user, next))
            for m in paid { payouts.append((user, next.startedOn!, m)) }
        }
        if !payouts.isEmpty {
            let book = LedgerBook(tx)
            try book.load(payouts.map(\.0))
            for (user, started, m) in payouts where book.hasAccount(user) {
                // One reference per streak (its first day) and milestone: paid once per streak.
                let change = try book.grant(NewGrant(userID: user, source: .streak, amount: m.credits,
                                                     reference: "streak:\(user):\(started.iso):\(m.days)", kind: "streak",
                                                     metadata: ["days": .int(m.days), "streak_started_on": .string(started.iso),
                                                                "day": .string(day.iso)]))
                if change != nil {
                    stats.milestones += 1
                    stats.credits += m.credits
                }
            }
            try book.commit()
        }
        if !changed.isEmpty {
            try tx.query(RewardsQueries.saveStreaks, [
                changed.map(\.0), changed.map { $0.1.length }, changed.map { $0.1.startedOn?.iso }, changed.map { $0.1.lastActiveDay?.iso },
                changed.map { $0.1.milestonePaid }, changed.map { $0.1.best }, changed.map { $0.1.evaluatedThrough?.iso },
            ])
        }
        return (stats, last)
    }
}
