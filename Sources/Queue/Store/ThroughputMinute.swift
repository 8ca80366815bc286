import Foundation

/// Jobs that finished in one minute, by how they ended: the operator console's throughput chart.
public struct ThroughputMinute: Sendable, Equatable {
    /// The minute's start (UTC).
    public let minute: Date
    public let completed: Int64
    public let discarded: Int64
    public let cancelled: Int64

    public init(minute: Date, completed: Int64, discarded: Int64, cancelled: Int64) {
        (self.minute, self.completed, self.discarded, self.cancelled) = (minute, completed, discarded, cancelled)
    }
}
