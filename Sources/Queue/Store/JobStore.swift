import Postgres

/// The queue's typed database API: every statement on the job, queue, worker and cron tables,
/// as functions that take and return Swift values (the way River's driver interface does).
/// The SQL stays in `JobQueries` and `AdminQueries`, internal to this module; callers never
/// see a statement or a positional parameter. Inserts go through `Enqueuer`, which adds the
/// idempotency keys and the debounced NOTIFY on top of them.
///
/// Every function runs on the connection it is given and blocks on libpq: call it inside
/// `ConnectionPool.withConnection` (or a transaction on such a connection), never on the
/// cooperative pool. Grouped by responsibility: `+Claim` (the run of a job: claim, leases,
/// finish, give back), `+Maintenance` (rescue, promotion, cron, prune), `+Workers` (the
/// `workers` and `worker_counters` tables) and `+Admin` (the operator commands).
public enum JobStore {
    /// `pg_notify(channel, payload)`: wakes listeners, such as a worker told `resume:<queue>`
    /// on `Channels.control`.
    public static func notify(channel: String, payload: String, on connection: Connection) throws {
        try connection.query(JobQueries.notify, [channel, payload])
    }

    /// A duration as the whole milliseconds the statements take (`$n::bigint * interval '1 millisecond'`).
    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
