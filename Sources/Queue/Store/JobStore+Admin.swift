import Foundation
import Postgres

/// What the operator commands (`tally jobs …`, `tally queues …`) and the API's job reads run.
/// None of it is on a hot path.
extension JobStore {
    /// Whether the queue's tables exist (`tally worker` refuses to start on an unmigrated database).
    public static func isMigrated(on connection: Connection) throws -> Bool {
        try connection.query(AdminQueries.migrated).first?.bool("ok") == true
    }

    /// One job, or nil when there is none with that id.
    public static func job(id: Int64, on connection: Connection) throws -> JobRecord? {
        try connection.query(AdminQueries.show, [id]).first.map(JobRecord.init(row:))
    }

    /// Up to `limit` jobs, newest first, matching every filter given; `before` pages (ids below it).
    public static func list(state: JobState?, kind: String?, queue: String?, since: Date?, before: Int64?, limit: Int,
                            on connection: Connection) throws -> [JobRecord] {
        try connection.query(AdminQueries.list, [state?.rawValue, kind, queue, since, limit, before]).map(JobRecord.init(row:))
    }

    /// The ids of up to `limit` jobs in `state` (and of `kind`), in id order: what a bulk retry takes.
    public static func jobIDs(state: JobState, kind: String?, limit: Int, on connection: Connection) throws -> [Int64] {
        try connection.query(AdminQueries.idsByState, [state.rawValue, kind, limit]).map { try $0.int64("id") }
    }

    /// The states of the jobs among `ids` that exist.
    public static func states(of ids: [Int64], on connection: Connection) throws -> [Int64: JobState] {
        var states: [Int64: JobState] = [:]
        for row in try connection.query(AdminQueries.states, [ids]) { states[try row.int64("id")] = try state(row, "state") }
        return states
    }

    /// Makes jobs run again now: discarded, cancelled, retryable and scheduled ones (one out of
    /// attempts gets one more). Returns the ids it retried; running and completed jobs are left alone.
    public static func retry(_ ids: [Int64], on connection: Connection) throws -> Set<Int64> {
        try self.ids(connection.query(AdminQueries.retry, [ids]))
    }

    /// Cancels the unfinished jobs among `ids`, recording `actor` in their errors; a running one's
    /// worker is told to stop the run. Returns each cancelled job's state before.
    public static func cancel(_ ids: [Int64], by actor: String, on connection: Connection) throws -> [Int64: JobState] {
        var was: [Int64: JobState] = [:]
        for row in try connection.query(AdminQueries.cancel, [ids, actor]) { was[try row.int64("id")] = try state(row, "was") }
        return was
    }

    /// Pauses a queue (no worker claims its jobs) or resumes it, and tells the workers at once.
    public static func setPaused(queue: String, paused: Bool, on connection: Connection) throws {
        try connection.query(AdminQueries.setPaused, [queue, paused])
    }

    /// The queues known from the queues table, from unfinished jobs and `including`, by name.
    public static func queues(including names: [String], on connection: Connection) throws -> [QueueSummary] {
        try connection.query(AdminQueries.queues, [names]).map { row in
            QueueSummary(name: try row.string("name"), paused: try row.bool("paused"), available: try row.int64("available"),
                         running: try row.int64("running"), waiting: try row.int64("waiting"))
        }
    }

    /// The job table's dead rows and the oldest snapshot that keeps vacuum from removing them.
    public static func vacuumHealth(on connection: Connection) throws -> VacuumHealth {
        guard let row = try connection.query(AdminQueries.vacuumHealth).first else {
            return VacuumHealth(liveRows: 0, deadRows: 0, oldestSnapshotAge: nil, oldestXminAge: nil)
        }
        return VacuumHealth(liveRows: try row.int64("live"), deadRows: try row.int64("dead"),
                            oldestSnapshotAge: try row.optString("snapshot_s").flatMap(Double.init),
                            oldestXminAge: try row.optInt64("xmin_age"))
    }

    /// Every queue with unfinished jobs or jobs finished in the last hour, with its figures.
    public static func stats(on connection: Connection) throws -> [String: QueueStats] {
        var byQueue: [String: QueueStats] = [:]
        for row in try connection.query(AdminQueries.activeCounts) {
            byQueue[try row.string("queue"), default: QueueStats()].states[try state(row, "state")] = try row.int64("n")
        }
        for row in try connection.query(AdminQueries.recentFinished) {
            let q = try row.string("queue")
            let state = try row.string("state")
            let hour = try row.int64("hour"), minute = try row.int64("minute")
            if state == "completed" {
                byQueue[q, default: QueueStats()].completedHour += hour
                byQueue[q, default: QueueStats()].completedMinute += minute
            } else if state == "discarded" {
                byQueue[q, default: QueueStats()].failedHour += hour
                byQueue[q, default: QueueStats()].failedMinute += minute
            }
        }
        for row in try connection.query(AdminQueries.recentRetries) {
            let q = try row.string("queue")
            byQueue[q, default: QueueStats()].failedHour += try row.int64("hour")
            byQueue[q, default: QueueStats()].failedMinute += try row.int64("minute")
        }
        for row in try connection.query(AdminQueries.oldestAvailable) {
            byQueue[try row.string("queue"), default: QueueStats()].oldestAge = Double(try row.string("age_s"))
        }
        return byQueue
    }
}
