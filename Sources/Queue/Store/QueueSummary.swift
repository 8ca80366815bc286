/// A queue as `tally queues list` shows it: paused or not, and its unfinished jobs.
public struct QueueSummary: Sendable, Equatable {
    public let name: String
    public let paused: Bool
    public let available: Int64
    public let running: Int64
    /// Scheduled and retryable jobs, not yet due.
    public let waiting: Int64
}
