import Support

/// What an insert did with one `NewJob`.
public struct EnqueueResult: Sendable, Equatable {
    public let id: Int64
    /// False when a job with the same idempotency key already existed: `id` is that job.
    public let inserted: Bool
    /// The existing job's kind and args, when not inserted (to tell a replay from a conflict).
    public let existingKind: String?
    public let existingArgs: JSON?

    public init(id: Int64, inserted: Bool, existingKind: String? = nil, existingArgs: JSON? = nil) {
        self.id = id
        self.inserted = inserted
        self.existingKind = existingKind
        self.existingArgs = existingArgs
    }
}
