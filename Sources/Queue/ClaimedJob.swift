import Foundation
import Postgres

/// A job a worker has claimed: what a handler needs to run it.
public struct ClaimedJob: Sendable {
    public let id: Int64
    public let queue: String
    public let kind: String
    /// The args as JSON text, decoded by the handler for its kind.
    public let argsJSON: String
    /// 1 on the first run.
    public let attempt: Int
    public let maxAttempts: Int
    public let priority: Int
    public let createdAt: Date

    public init(id: Int64, queue: String, kind: String, argsJSON: String, attempt: Int, maxAttempts: Int, priority: Int, createdAt: Date) {
        self.id = id
        self.queue = queue
        self.kind = kind
        self.argsJSON = argsJSON
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.priority = priority
        self.createdAt = createdAt
    }
}

extension ClaimedJob {
    public init(row: Row) throws {
        self.init(
            id: try row.int64("id"), queue: try row.string("queue"), kind: try row.string("kind"),
            argsJSON: try row.string("args"), attempt: try row.int("attempt"), maxAttempts: try row.int("max_attempts"),
            priority: try row.int("priority"), createdAt: try row.date("created_at"))
    }
}
