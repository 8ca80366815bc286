import Postgres
import Support

/// Writes a batch of `Finish` decisions in one statement (JobQueries.finish).
public struct FinishBatch: Sendable {
    public let finishes: [Finish]

    public init(_ finishes: [Finish]) { self.finishes = finishes }

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
