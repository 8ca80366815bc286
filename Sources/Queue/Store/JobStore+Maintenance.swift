import Foundation
import Postgres

/// What every worker runs in the background: rescue of lapsed leases, promotion of due jobs,
/// cron bookkeeping and pruning. Each is one statement with `SKIP LOCKED` or a conditional
/// upsert, so running it on every worker never does work twice.
extension JobStore {
    /// Gives back up to `limit` running jobs whose lease lapsed: `retryable` and due now, or
    /// `discarded` when out of attempts.
    public static func rescue(limit: Int, on connection: Connection) throws -> [RescuedJob] {
        try connection.query(JobQueries.rescue, [limit]).map { row in
            RescuedJob(id: try row.int64("id"), kind: try row.string("kind"), queue: try row.string("queue"),
                       state: try state(row, "state"), lockedBy: try row.optString("locked_by"))
        }
    }

    /// Makes up to `limit` due scheduled and retryable jobs available and notifies their queues;
    /// returns how many each queue got.
    public static func promoteDue(limit: Int, on connection: Connection) throws -> [PromotedQueue] {
        try connection.query(JobQueries.promoteDue, [limit]).map { row in
            PromotedQueue(queue: try row.string("queue"), count: try row.int("n"))
        }
    }

    /// When the next scheduled or retryable job comes due; nil when none waits.
    public static func nextDue(on connection: Connection) throws -> Date? {
        try connection.query(JobQueries.nextDue).first.flatMap { try $0.optDate("next") }
    }

    /// Records the occurrence of cron schedule `name` due at `due` unless it, or a later one,
    /// was recorded already. True for the one caller that should enqueue it.
    public static func recordCronOccurrence(name: String, due: Date, on connection: Connection) throws -> Bool {
        try !connection.query(JobQueries.recordCronOccurrence, [name, due]).isEmpty
    }

    /// Deletes up to `limit` finished jobs past their retention: completed and cancelled ones
    /// finished more than `completedOlderThan` ago, discarded ones more than `discardedOlderThan`
    /// ago. Returns how many it deleted.
    public static func prune(completedOlderThan: Duration, discardedOlderThan: Duration, limit: Int,
                             on connection: Connection) throws -> Int {
        try connection.query(AdminQueries.prune, [completedOlderThan.components.seconds, discardedOlderThan.components.seconds, limit])
            .first?.int("n") ?? 0
    }

    /// A `job_state` column (sent as text).
    static func state(_ row: Row, _ column: String) throws -> JobState {
        let text = try row.string(column)
        guard let state = JobState(rawValue: text) else {
            throw PostgresError(kind: .decoding, message: "unknown job state \(text)")
        }
        return state
    }
}
