import Postgres

/// The run of a job: claim, lease renewal, the lock of a batch, finish and the give-back at
/// shutdown. All but the claim touch only rows still `running` and held by `workerID`.
extension JobStore {
    /// Claims up to `limit` available jobs of `queue` for `workerID`, holding each for `lease`.
    /// Nothing when the queue is paused.
    public static func claim(queue: String, limit: Int, workerID: String, lease: Duration,
                             on connection: Connection) throws -> [ClaimedJob] {
        try connection.query(JobQueries.claim, [queue, limit, workerID, milliseconds(lease)]).map(ClaimedJob.init(row:))
    }

    /// Extends by `lease` the leases of the jobs `workerID` still runs in these attempts;
    /// returns the ids still ours.
    public static func renewLeases(_ jobs: [JobAttempt], workerID: String, lease: Duration,
                                   on connection: Connection) throws -> Set<Int64> {
        try ids(connection.query(JobQueries.renewLeases, [jobs.map(\.id), workerID, milliseconds(lease), jobs.map(\.attempt)]))
    }

    /// Locks (in id order) the jobs of a batch `workerID` still holds in these attempts; returns their ids.
    public static func lockHeld(_ jobs: [JobAttempt], workerID: String, on connection: Connection) throws -> Set<Int64> {
        try ids(connection.query(JobQueries.lockHeld, [jobs.map(\.id), workerID, jobs.map(\.attempt)]))
    }

    /// Writes a batch of outcomes in one statement; returns the ids it changed: those still
    /// running, in the same attempt, held by `workerID`. (`FinishBatch.run` calls this.)
    public static func finish(_ batch: FinishBatch, workerID: String, on connection: Connection) throws -> Set<Int64> {
        let finishes = batch.finishes
        guard !finishes.isEmpty else { return [] }
        return try ids(connection.query(JobQueries.finish, [
            finishes.map(\.jobID),
            finishes.map(\.state.rawValue),
            finishes.map(\.result),
            finishes.map(\.delayMilliseconds),
            finishes.map(\.errorMessage),
            finishes.map(\.attempt),
            workerID,
        ]))
    }

    /// At shutdown: every job still running under `workerID` goes back to `available` without
    /// using an attempt. Returns their ids.
    public static func giveBack(workerID: String, on connection: Connection) throws -> [Int64] {
        try connection.query(JobQueries.giveBack, [workerID]).map { try $0.int64("id") }
    }

    /// The `id` column of an answer.
    static func ids(_ rows: Rows) throws -> Set<Int64> {
        var ids = Set<Int64>()
        ids.reserveCapacity(rows.count)
        for row in rows { ids.insert(try row.int64("id")) }
        return ids
    }
}
