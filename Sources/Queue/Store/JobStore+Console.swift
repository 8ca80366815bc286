import Foundation
import Postgres

/// What the operator console reads beyond the commands' functions (`+Admin`).
extension JobStore {
    /// Jobs finished in each minute of the last hour that had any, oldest first.
    public static func throughput(on connection: Connection) throws -> [ThroughputMinute] {
        try connection.query(ConsoleQueries.throughput).map { row in
            ThroughputMinute(minute: try row.date("minute"), completed: try row.int64("completed"),
                             discarded: try row.int64("discarded"), cancelled: try row.int64("cancelled"))
        }
    }

    /// The ids of up to `limit` jobs matching the filters (as `list` takes them), newest first:
    /// what a bulk retry or cancel of a filtered page acts on.
    public static func jobIDs(state: JobState?, kind: String?, queue: String?, since: Date?, limit: Int,
                              on connection: Connection) throws -> [Int64] {
        try connection.query(ConsoleQueries.filteredIDs, [state?.rawValue, kind, queue, since, limit]).map { try $0.int64("id") }
    }
}
