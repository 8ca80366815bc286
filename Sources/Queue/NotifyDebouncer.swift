/// Decides when an enqueue may send `NOTIFY tally_jobs`.
///
/// A NOTIFY takes a cluster-wide lock at commit, so transactions that notify commit one at a
/// time: one NOTIFY per job would cap enqueue at the speed of serial commits. At most one
/// NOTIFY per queue per `window` is sent with an insert. An insert inside the window sends
/// none; once it has committed it arms one trailing NOTIFY for shortly after, so the
/// last jobs of a burst do not wait for the workers' fallback poll. Arming at commit (not at the
/// insert) matters: a trailing NOTIFY that went out before the insert committed would wake the
/// workers to an empty queue. A plain value: the rules are tested without a database.
public struct NotifyDebouncer: Sendable {
    public let windowNanos: UInt64
    /// When each queue's last inline NOTIFY was decided.
    private var lastSent: [String: UInt64] = [:]
    /// Whether each queue has a trailing NOTIFY armed.
    private var armed: Set<String> = []
    /// When each queue's last insert that did not notify committed.
    private var lastCommit: [String: UInt64] = [:]

    /// 1 ms: a few NOTIFYs per millisecond cost nothing measurable, and at 200 jobs/s every
    /// job still gets its own wake-up (enqueue→start p50 stays about 1 ms).
    public init(windowNanos: UInt64 = 1_000_000) {
        self.windowNanos = windowNanos
    }

    /// True: notify with this insert. False: call `committed` once it has committed.
    public mutating func decide(queue: String, nowNanos: UInt64) -> Bool {
        if let last = lastSent[queue], nowNanos &- last < windowNanos { return false }
        lastSent[queue] = nowNanos
        return true
    }

    /// An insert that did not notify has committed: returns when to send a trailing NOTIFY,
    /// or nil when one is armed already (it goes out after this commit, so it covers it).
    ///
    /// Due two windows after the last inline NOTIFY, when `trailingDue` decides: a stream that
    /// goes on notifies inline by then and the trailing one is skipped. Sent at the window's
    /// end, nearly every window of a steady single-job stream sent both (720 extra NOTIFY
    /// transactions per second at 3,600 inserts/s, each a commit of its own). Only the last
    /// jobs of a burst wait the extra window.
    public mutating func committed(queue: String, nowNanos: UInt64) -> UInt64? {
        lastCommit[queue] = nowNanos
        guard !armed.contains(queue) else { return nil }
        armed.insert(queue)
        let due = (lastSent[queue] ?? 0) &+ 2 &* windowNanos
        return max(due, nowNanos)
    }

    public enum Trailing: Equatable, Sendable {
        /// Send the trailing NOTIFY now.
        case send
        /// Not needed: an inline NOTIFY covers every insert that skipped one.
        case skip
        /// The stream goes on: look again at this time (ns); its next inline NOTIFY will do.
        case rearm(atNanos: UInt64)
    }

    /// The armed trailing NOTIFY for `queue` is due. Covered when an inline NOTIFY was decided
    /// after the last insert that skipped one had committed (that statement runs later, so the
    /// workers it wakes see the insert); one decided before that commit may have woken them too
    /// early and does not count. While inserts keep notifying inline (one within the last
    /// window), the next one will cover it, so it waits rather than adds a NOTIFY commit: a
    /// steady stream sends one NOTIFY per window, not two.
    public mutating func trailingDue(queue: String, nowNanos: UInt64) -> Trailing {
        let last = lastSent[queue] ?? 0
        if let commit = lastCommit[queue], last > commit {
            armed.remove(queue)
            return .skip
        }
        if nowNanos &- last < windowNanos { return .rearm(atNanos: last &+ 2 &* windowNanos) }
        armed.remove(queue)
        lastSent[queue] = nowNanos
        return .send
    }
}
