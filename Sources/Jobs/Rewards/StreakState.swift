import Foundation
import Postgres
import Support

/// One user's streak and the rule that moves it, a day at a time (DESIGN.md, "Streaks"): a
/// UTC day with any recorded activity extends the streak, a missed day breaks it; each
/// milestone pays once per streak (a broken and restarted streak can earn it again).
public struct StreakState: Sendable, Equatable {
    /// Consecutive active days ending on `lastActiveDay`; 0 when there is no live streak.
    public var length: Int
    public var startedOn: UTCDay?
    public var lastActiveDay: UTCDay?
    /// The highest milestone (in days) paid in the live streak; 0 when none.
    public var milestonePaid: Int
    public var best: Int
    /// The last day applied; applying it (or an earlier one) again changes nothing.
    public var evaluatedThrough: UTCDay?

    public init(length: Int = 0, startedOn: UTCDay? = nil, lastActiveDay: UTCDay? = nil, milestonePaid: Int = 0, best: Int = 0,
                evaluatedThrough: UTCDay? = nil) {
        self.length = length
        self.startedOn = startedOn
        self.lastActiveDay = lastActiveDay
        self.milestonePaid = milestonePaid
        self.best = best
        self.evaluatedThrough = evaluatedThrough
    }

    /// What happened to a streak on one day.
    public enum Change: Sendable, Equatable {
        /// Already applied: nothing changed.
        case unchanged
        case started
        case extended
        case broken
        /// No live streak and no activity.
        case idle
    }

    /// The state after `day` (active or not) and the milestones that day reached, given that
    /// every earlier day has been applied in order.
    public func applying(day: UTCDay, active: Bool, milestones: [StreakMilestone]) -> (state: StreakState, change: Change, paid: [StreakMilestone]) {
        if let through = evaluatedThrough, day <= through { return (self, .unchanged, []) }
        var next = self
        next.evaluatedThrough = day
        guard active else {
            guard length > 0 else { return (next, .idle, []) }
            next.length = 0
            next.startedOn = nil
            next.milestonePaid = 0
            return (next, .broken, [])
        }
        let change: Change
        if length > 0, let last = lastActiveDay, last.advanced(by: 1) == day {
            next.length += 1
            change = .extended
        } else {
            // No streak, or a gap the evaluation did not see (it was not run for those days).
            next.length = 1
            next.startedOn = day
            next.milestonePaid = 0
            change = .started
        }
        next.lastActiveDay = day
        next.best = max(next.best, next.length)
        let paid = milestones.filter { $0.days > next.milestonePaid && $0.days <= next.length }
        if let top = paid.map(\.days).max() { next.milestonePaid = top }
        return (next, change, paid)
    }

    init(row: Row) throws {
        self.init(length: try row.int("length"), startedOn: try row.optString("started_on").flatMap(UTCDay.init),
                  lastActiveDay: try row.optString("last_active_day").flatMap(UTCDay.init), milestonePaid: try row.int("milestone_paid"),
                  best: try row.int("best"), evaluatedThrough: try row.optString("evaluated_through").flatMap(UTCDay.init))
    }
}
