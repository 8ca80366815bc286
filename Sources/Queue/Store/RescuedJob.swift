/// A running job whose lease lapsed, as the rescuer gave it back: `retryable` again, or
/// `discarded` when it was out of attempts.
public struct RescuedJob: Sendable {
    public let id: Int64
    public let kind: String
    public let queue: String
    public let state: JobState
    /// The lease holder that stopped renewing it.
    public let lockedBy: String?
}
