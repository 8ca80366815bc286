import Postgres
import Support

/// Writes a batch of `Finish` decisions in one statement (JobQueries.finish).
public struct FinishBatch: Sendable {
    public let finishes: [Finish]

    /// Sorted by job id: rows are then locked in id order, like every other statement that
    /// locks several held jobs (no deadlock with a lease renewal).
    public init(_ finishes: [Finish]) { self.finishes = finishes.sorted { $0.jobID < $1.jobID } }

    /// Returns the ids it changed: those still running, in the same attempt, held by `workerID`.
    @discardableResult
    public func run(on connection: Connection, workerID: String) throws -> Set<Int64> {
        guard !finishes.isEmpty else { return [] }
        let rows = try connection.query(JobQueries.finish, [
            finishes.map(\.jobID),
            finishes.map(\.state.rawValue),
            finishes.map(\.result),
            finishes.map(\.delayMilliseconds),
            finishes.map(\.errorMessage),
            finishes.map(\.attempt),
            workerID,
        ])
        var changed = Set<Int64>()
        changed.reserveCapacity(rows.count)
        for row in rows { changed.insert(try row.int64("id")) }
        return changed
    }
}
