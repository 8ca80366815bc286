import Support

/// One job's outcome in a batch, in the order of the jobs given.
public enum BatchOutcome: Sendable, Equatable {
    /// Completed in the batch's transaction with this result.
    case completed(JSON?)
    /// Failed without changing anything; `permanent` discards it at once.
    case failed(String, permanent: Bool)
    /// Not run, nothing changed: something it needs was busy (only when `mayDefer`).
    case deferred
    /// Not run, nothing changed: it needs the ordinary path (`run`: a call outside the
    /// transaction, a wait of its own). The worker runs it alone right after the batch.
    case runAlone
}
