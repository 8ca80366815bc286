/// Groups finished jobs into completion statements: a plain value, tested without a database.
///
/// One flush at a time; whatever finishes while a flush is in flight goes into the next one.
/// At low load every job is written at once (no timer adds latency); under load the batches
/// grow by themselves to what the database can take (group commit). A failed flush (database
/// away) keeps its jobs, in order, and is retried with backoff. A batch the server refuses for
/// its values is split: its jobs are written one at a time, and the one refused alone is
/// dropped, so one bad row cannot hold every later completion back.
struct CompletionBatcher<Item: Sendable & Equatable>: Sendable {
    let maxBatch: Int
    private(set) var pending: [Item] = []
    private(set) var flushing = false
    /// How many jobs the flush in flight writes.
    private(set) var inFlight = 0
    private var failures = 0
    /// How many of the next jobs to write one per flush (the rest of a refused batch).
    private var isolating = 0

    enum Failure: Equatable, Sendable {
        /// Try again after this many seconds.
        case retry(afterSeconds: Double)
        /// The server refused this job's outcome on its own: it cannot be written.
        case drop(Item)
    }

    init(maxBatch: Int) {
        precondition(maxBatch > 0)
        self.maxBatch = maxBatch
    }

    /// Adds a finished job; true when the flusher should be woken.
    mutating func add(_ item: Item) -> Bool {
        pending.append(item)
        return !flushing
    }

    /// The next batch to write, or nil when nothing is pending or a flush is in flight.
    mutating func takeBatch() -> [Item]? {
        guard !flushing, !pending.isEmpty else { return nil }
        flushing = true
        let n = isolating > 0 ? 1 : min(maxBatch, pending.count)
        if isolating > 0 { isolating -= 1 }
        let batch = Array(pending.prefix(n))
        pending.removeFirst(n)
        inFlight = n
        return batch
    }

    mutating func flushSucceeded() {
        flushing = false
        inFlight = 0
        failures = 0
    }

    /// A flush failed. `refusedData`: the server refused the values (not the connection).
    mutating func flushFailed(_ batch: [Item], refusedData: Bool) -> Failure {
        flushing = false
        inFlight = 0
        if refusedData {
            if batch.count == 1 {
                failures = 0
                return .drop(batch[0])
            }
            pending.insert(contentsOf: batch, at: 0)
            isolating = batch.count
            return .retry(afterSeconds: 0)
        }
        pending.insert(contentsOf: batch, at: 0)
        failures += 1
        return .retry(afterSeconds: min(0.05 * Double(1 << min(failures, 7)), 5))
    }

    var isIdle: Bool { !flushing && pending.isEmpty }
}
