import Postgres
import Support

/// Writes a batch of `Finish` decisions in one statement (`JobStore.finish`).
public struct FinishBatch: Sendable {
    public let finishes: [Finish]

    /// Sorted by job id: rows are then locked in id order, like every other statement that
    /// locks several held jobs (no deadlock with a lease renewal).
    public init(_ finishes: [Finish]) { self.finishes = finishes.sorted { $0.jobID < $1.jobID } }

    /// Returns the ids it changed: those still running, in the same attempt, held by `workerID`.
    @discardableResult
    public func run(on connection: Connection, workerID: String) throws -> Set<Int64> {
        try JobStore.finish(self, workerID: workerID, on: connection)
    }
}
