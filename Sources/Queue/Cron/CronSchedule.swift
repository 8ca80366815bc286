import Foundation
import Postgres
import Support

/// A named periodic job: at each occurrence of `expression`, one job of `kind` is enqueued by
/// whichever worker gets there first, with args `args` plus `"as_of": <the occurrence>`.
public struct CronSchedule: Sendable {
    public let name: String
    public let expression: CronExpression
    public let kind: String
    public let args: [String: JSON]
    public let queue: String
    public let priority: Int
    public let maxAttempts: Int

    public init(name: String, expression: CronExpression, kind: String, args: [String: JSON] = [:], queue: String,
                priority: Int = NewJob.defaultPriority, maxAttempts: Int = NewJob.defaultMaxAttempts) {
        self.maxAttempts = maxAttempts
        self.name = name
        self.expression = expression
        self.kind = kind
        self.args = args
        self.queue = queue
        self.priority = priority
    }

    /// The job for the occurrence due at `due`. Its idempotency key is made from the schedule
    /// name and the due time, so the occurrence is one job however many workers enqueue it.
    public func job(for due: Date) -> NewJob {
        var a = args
        a["as_of"] = .string(Timestamp.iso8601(due))
        return NewJob(kind: kind, args: .object(a), queue: queue, priority: priority, maxAttempts: maxAttempts,
                      uniqueKey: "cron:\(name):\(Timestamp.iso8601(due))")
    }

    /// Enqueues the occurrence due at `due` unless it, or a later one, was enqueued already.
    /// Returns the job id when this call enqueued it.
    ///
    /// Two guards make it exactly once: the `cron_schedules` row only moves forward (a
    /// conditional upsert that returns a row to one caller), and the job's unique key.
    public func enqueueOccurrence(due: Date, on connection: Connection, enqueuer: Enqueuer) throws -> Int64? {
        try connection.transaction { tx in
            guard try JobStore.recordCronOccurrence(name: name, due: due, on: tx) else { return nil }
            let result = try enqueuer.enqueue(job(for: due), on: tx)
            return result.inserted ? result.id : nil
        }
    }
}

extension CronSchedule {
    /// The same schedule at another time or with another attempt limit.
    public func with(expression: CronExpression? = nil, maxAttempts: Int? = nil) -> CronSchedule {
        CronSchedule(name: name, expression: expression ?? self.expression, kind: kind, args: args, queue: queue, priority: priority,
                     maxAttempts: maxAttempts ?? self.maxAttempts)
    }
}
