import Foundation
import Postgres
import Support

/// A job row as operators and the API see it.
public struct JobRecord: Sendable {
    public struct AttemptError: Sendable, Equatable {
        public let at: String
        public let attempt: Int
        public let message: String
    }

    public let id: Int64
    public let queue: String
    public let kind: String
    public let args: JSON
    public let state: JobState
    public let priority: Int
    public let attempt: Int
    public let maxAttempts: Int
    public let runAt: Date
    public let uniqueKey: String?
    public let lockedBy: String?
    public let leaseExpiresAt: Date?
    public let createdAt: Date
    public let attemptedAt: Date?
    public let finishedAt: Date?
    public let errors: [AttemptError]
    public let result: JSON?

    public init(row: Row) throws {
        id = try row.int64("id")
        queue = try row.string("queue")
        kind = try row.string("kind")
        args = try row.json("args")
        let stateText = try row.string("state")
        guard let s = JobState(rawValue: stateText) else {
            throw PostgresError(kind: .decoding, message: "unknown job state \(stateText)")
        }
        state = s
        priority = try row.int("priority")
        attempt = try row.int("attempt")
        maxAttempts = try row.int("max_attempts")
        runAt = try row.date("run_at")
        uniqueKey = try row.optString("unique_key")
        lockedBy = try row.optString("locked_by")
        leaseExpiresAt = try row.optDate("lease_expires_at")
        createdAt = try row.date("created_at")
        attemptedAt = try row.optDate("attempted_at")
        finishedAt = try row.optDate("finished_at")
        errors = (try row.json("errors").array ?? []).map { e in
            let at = e["at"]?.string.flatMap(Timestamp.parse).map(Timestamp.iso8601) ?? e["at"]?.string ?? ""
            return AttemptError(at: at, attempt: e["attempt"]?.int ?? 0, message: e["message"]?.string ?? "")
        }
        result = try row.optJSON("result")
    }

    /// The JSON operators and scripts get (`tally jobs show --json`).
    public var json: JSON {
        [
            "id": .int(id), "queue": .string(queue), "kind": .string(kind), "args": args, "state": .string(state.rawValue),
            "priority": .int(priority), "attempt": .int(attempt), "max_attempts": .int(maxAttempts),
            "run_at": .string(Timestamp.iso8601(runAt)), "unique_key": .optional(uniqueKey), "worker": .optional(lockedBy),
            "lease_expires_at": .optional(leaseExpiresAt.map(Timestamp.iso8601)),
            "created_at": .string(Timestamp.iso8601(createdAt)),
            "attempted_at": .optional(attemptedAt.map(Timestamp.iso8601)),
            "finished_at": .optional(finishedAt.map(Timestamp.iso8601)),
            "errors": .array(errors.map { ["at": .string($0.at), "attempt": .int($0.attempt), "message": .string($0.message)] }),
            "result": result ?? .null,
        ]
    }
}
