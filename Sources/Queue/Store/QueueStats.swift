/// One queue's figures for `tally jobs stats`: its unfinished jobs by state, how long its
/// oldest available job has waited, and what finished or failed in the last minute and hour.
public struct QueueStats: Sendable, Equatable {
    /// Unfinished jobs (scheduled, available, running, retryable) by state; a state with none is absent.
    public var states: [JobState: Int64] = [:]
    public var completedMinute: Int64 = 0, completedHour: Int64 = 0
    /// Discarded jobs and failed attempts that will be retried.
    public var failedMinute: Int64 = 0, failedHour: Int64 = 0
    /// Seconds since the oldest available job's run_at; nil when none is available.
    public var oldestAge: Double?

    public init() {}
}
