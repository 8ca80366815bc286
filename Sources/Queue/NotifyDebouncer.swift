/// Decides when an enqueue may send `NOTIFY tally_jobs`.
///
/// A NOTIFY takes a cluster-wide lock at commit, so transactions that notify commit one at a
/// time: one NOTIFY per job would cap enqueue at the speed of serial commits. At most one
/// NOTIFY per queue per `window` is sent with an insert; an insert inside the window instead
/// asks for one trailing NOTIFY at the window's end, so the last jobs of a burst do not wait
/// for the workers' fallback poll. A plain value: the rules are tested without a database.
public struct NotifyDebouncer: Sendable {
    public enum Decision: Equatable, Sendable {
        /// Notify with this insert.
        case now
        /// Do not notify with this insert; send a trailing NOTIFY at this time (ns).
        case trailing(atNanos: UInt64)
        /// A trailing NOTIFY is already planned; nothing more to do.
        case covered
    }

    public let windowNanos: UInt64
    private var lastSent: [String: UInt64] = [:]
    private var trailingPlanned: [String: UInt64] = [:]
    /// When each planned trailing NOTIFY was asked for.
    private var trailingAskedAt: [String: UInt64] = [:]

    /// 1 ms: a few NOTIFYs per millisecond cost nothing measurable, and at 200 jobs/s every
    /// job still gets its own wake-up (enqueue→start p50 stays about 1 ms).
    public init(windowNanos: UInt64 = 1_000_000) {
        self.windowNanos = windowNanos
    }

    public mutating func decide(queue: String, nowNanos: UInt64) -> Decision {
        if let planned = trailingPlanned[queue], planned > nowNanos { return .covered }
        if let last = lastSent[queue], nowNanos &- last < windowNanos {
            let at = last + windowNanos
            trailingPlanned[queue] = at
            trailingAskedAt[queue] = nowNanos
            return .trailing(atNanos: at)
        }
        lastSent[queue] = nowNanos
        return .now
    }

    /// The planned trailing NOTIFY for `queue` is due: true to send it, false when an insert
    /// after the one that asked for it notified already (a steady stream then sends one
    /// NOTIFY per window, not two).
    public mutating func trailingDue(queue: String, nowNanos: UInt64) -> Bool {
        trailingPlanned[queue] = nil
        let askedAt = trailingAskedAt.removeValue(forKey: queue) ?? 0
        if let last = lastSent[queue], last > askedAt { return false }
        lastSent[queue] = nowNanos
        return true
    }
}
