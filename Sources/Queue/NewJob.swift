import Foundation
import Support

/// A job to insert. Every field but `kind` and `args` has the default of DESIGN.md.
public struct NewJob: Sendable {
    public var kind: String
    /// The args as JSON text (an object). Kept as text so a hot path that builds it once does
    /// not pay for a second serialisation.
    public var argsJSON: String
    public var queue: String
    public var priority: Int
    public var maxAttempts: Int
    /// nil: now. In the future: the job is `scheduled` until then.
    public var runAt: Date?
    /// The idempotency key; an existing job with it makes the insert return that job instead.
    public var uniqueKey: String?
    /// The key is unique only among unfinished jobs (a finished one does not block a new one).
    public var uniqueWhileActive: Bool
    /// Someone waits on this job's outcome: finishing it sends NOTIFY tally_job_finished.
    public var notifyOnFinish: Bool

    public static let defaultPriority = 5
    public static let defaultMaxAttempts = 20
    public static let maxPayloadBytes = 1 << 20

    public init(kind: String, args: JSON = [:], queue: String, priority: Int = NewJob.defaultPriority,
                maxAttempts: Int = NewJob.defaultMaxAttempts, runAt: Date? = nil, uniqueKey: String? = nil,
                uniqueWhileActive: Bool = false, notifyOnFinish: Bool = false) {
        self.init(kind: kind, argsJSON: args.serialized, queue: queue, priority: priority, maxAttempts: maxAttempts,
                  runAt: runAt, uniqueKey: uniqueKey, uniqueWhileActive: uniqueWhileActive, notifyOnFinish: notifyOnFinish)
    }

    public init(kind: String, argsJSON: String, queue: String, priority: Int = NewJob.defaultPriority,
                maxAttempts: Int = NewJob.defaultMaxAttempts, runAt: Date? = nil, uniqueKey: String? = nil,
                uniqueWhileActive: Bool = false, notifyOnFinish: Bool = false) {
        self.kind = kind
        self.argsJSON = argsJSON
        self.queue = queue
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.runAt = runAt
        self.uniqueKey = uniqueKey
        self.uniqueWhileActive = uniqueWhileActive
        self.notifyOnFinish = notifyOnFinish
    }

    /// Checks what the table's constraints would refuse, with messages a caller can act on.
    public func validate() throws(QueueError) {
        guard !kind.isEmpty, kind.utf8.count <= 128 else { throw .invalid("kind must be 1 to 128 bytes") }
        guard !queue.isEmpty, queue.utf8.count <= 128 else { throw .invalid("queue must be 1 to 128 bytes") }
        guard (0...9).contains(priority) else { throw .invalid("priority must be 0 to 9, got \(priority)") }
        guard maxAttempts >= 1 else { throw .invalid("max_attempts must be at least 1, got \(maxAttempts)") }
        if let uniqueKey, uniqueKey.isEmpty || uniqueKey.utf8.count > 512 {
            throw .invalid("the idempotency key must be 1 to 512 bytes")
        }
        guard argsJSON.utf8.count <= NewJob.maxPayloadBytes else { throw .invalid("args larger than 1 MiB") }
    }
}
