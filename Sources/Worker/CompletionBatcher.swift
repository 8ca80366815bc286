import Queue

/// Groups finished jobs into completion statements: a plain value, tested without a database.
///
/// One flush at a time; whatever finishes while a flush is in flight goes into the next one.
/// At low load every job is written at once (no timer adds latency); under load the batches
/// grow by themselves to what the database can take (group commit). A failed flush (database
/// away) keeps its jobs, in order, and is retried with backoff.
struct CompletionBatcher: Sendable {
    let maxBatch: Int
    private(set) var pending: [Finish] = []
    private(set) var flushing = false
    private var failures = 0

    init(maxBatch: Int) {
        precondition(maxBatch > 0)
        self.maxBatch = maxBatch
    }

    /// Adds a finished job; true when the flusher should be woken.
    mutating func add(_ finish: Finish) -> Bool {
        pending.append(finish)
        return !flushing
    }

    /// The next batch to write, or nil when nothing is pending or a flush is in flight.
    mutating func takeBatch() -> [Finish]? {
        guard !flushing, !pending.isEmpty else { return nil }
        flushing = true
        let n = min(maxBatch, pending.count)
        let batch = Array(pending.prefix(n))
        pending.removeFirst(n)
        return batch
    }

    mutating func flushSucceeded() {
        flushing = false
        failures = 0
    }

    /// Puts the batch back in front; returns how long to wait before trying again.
    mutating func flushFailed(_ batch: [Finish]) -> Double {
        flushing = false
        pending.insert(contentsOf: batch, at: 0)
        failures += 1
        return min(0.05 * Double(1 << min(failures, 7)), 5)
    }

    var isIdle: Bool { !flushing && pending.isEmpty }
}
