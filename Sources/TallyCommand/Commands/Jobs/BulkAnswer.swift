import Foundation
import Postgres
import Queue
import Support

/// The answer of a command acting on several jobs: which it changed, which not and why.
enum BulkAnswer {
    /// Why each id not in `done` was left alone: its state (via `reason`), or that it does not exist.
    static func failures(_ ids: [Int64], done: Set<Int64>, on connection: Connection,
                         reason: (String) -> String) throws -> [(id: Int64, reason: String)] {
        let missing = ids.filter { !done.contains($0) }
        guard !missing.isEmpty else { return [] }
        let states = try JobStore.states(of: missing, on: connection)
        return missing.map { id in (id, states[id].map { reason($0.rawValue) } ?? "does not exist") }
    }

    static func json(done key: String, ids: [Int64], succeeded: Set<Int64>, failed: [(id: Int64, reason: String)]) -> JSON {
        [key: .array(ids.filter(succeeded.contains).map { .int($0) }),
         "failed": .array(failed.map { ["id": .int($0.id), "reason": .string($0.reason)] })]
    }

    static func printFailures(_ failed: [(id: Int64, reason: String)], command: String) {
        for f in failed { Output.error("tally \(command): job \(f.id) \(f.reason)") }
    }
}
