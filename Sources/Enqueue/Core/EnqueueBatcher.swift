import Foundation
import Postgres
import Queue
import Support
import Synchronization

/// Groups concurrent enqueues into one statement and one commit.
///
/// With `fsync` on, a commit costs a WAL flush; one commit per request would cap the ingress at
/// the disk's flush rate. Requests are queued here; up to `maxConcurrent` flushes run at once,
/// each taking everything queued (up to `maxBatch`) into one `Enqueuer.enqueue([NewJob])` (one
/// INSERT for the batch) plus one statement per kind of companion rows (`EnqueueCompanion`: the
/// Stripe inbox's events), in one transaction. A flush
/// starts at once when a connection is free, so an idle ingress adds no delay; under load the
/// requests that arrive during a commit form the next batch (group commit). Each request is
/// answered only after the commit that made it durable.
public final class EnqueueBatcher: Sendable {
    public struct Item: Sendable {
        public var job: NewJob
        /// Rows to write in the transaction that enqueues the job (the Stripe inbox's event).
        public var companion: (any EnqueueCompanion)?
        public init(job: NewJob, companion: (any EnqueueCompanion)? = nil) {
            self.job = job
            self.companion = companion
        }
    }

    private struct Waiting {
        let item: Item
        let continuation: CheckedContinuation<EnqueueResult, any Error>
    }

    private struct State {
        var queue: [Waiting] = []
        var flushing = 0
    }

    private let pool: ConnectionPool
    private let enqueuer: Enqueuer
    private let metrics: Metrics
    private let maxBatch: Int
    private let maxConcurrent: Int
    private let state = Mutex(State())

    public init(pool: ConnectionPool, enqueuer: Enqueuer, metrics: Metrics, maxBatch: Int, maxConcurrent: Int) {
        self.pool = pool
        self.enqueuer = enqueuer
        self.metrics = metrics
        self.maxBatch = max(1, maxBatch)
        self.maxConcurrent = max(1, maxConcurrent)
    }

    /// Requests waiting for a flush (not yet taken into a transaction).
    public var queued: Int { state.withLock { $0.queue.count } }

    /// Flushes running.
    public var flushing: Int { state.withLock { $0.flushing } }

    /// Enqueues `item` with others; returns once committed. Throws the database's error.
    public func submit(_ item: Item) async throws -> EnqueueResult {
        try await withCheckedThrowingContinuation { continuation in
            let startFlush = state.withLock { s -> Bool in
                s.queue.append(Waiting(item: item, continuation: continuation))
                guard s.flushing < maxConcurrent else { return false }
                s.flushing += 1
                return true
            }
            if startFlush { Task { await self.drain() } }
        }
    }

    /// Flushes batches until the queue is empty.
    private func drain() async {
        while true {
            let batch = state.withLock { s -> [Waiting] in
                if s.queue.isEmpty {
                    s.flushing -= 1
                    return []
                }
                let n = min(maxBatch, s.queue.count)
                let batch = Array(s.queue.prefix(n))
                s.queue.removeFirst(n)
                return batch
            }
            if batch.isEmpty { return }
            await flush(batch)
        }
    }

    private func flush(_ batch: [Waiting]) async {
        metrics.batch(size: batch.count)
        do {
            let results = try await write(batch.map(\.item))
            for (w, r) in zip(batch, results) { w.continuation.resume(returning: r) }
        } catch {
            let unavailable = (error as? PostgresError)?.isUnavailable == true
            guard !unavailable && batch.count > 1 else {
                for w in batch { w.continuation.resume(throwing: error) }
                return
            }
            // One item the database (or the enqueuer) refuses must not fail the others.
            Log.warn("an enqueue batch failed; retrying its requests one by one", ["size": batch.count, "error": error])
            for w in batch {
                do { w.continuation.resume(returning: try await write([w.item])[0]) } catch { w.continuation.resume(throwing: error) }
            }
        }
    }

    private func write(_ items: [Item]) async throws -> [EnqueueResult] {
        let enqueuer = self.enqueuer
        let jobs = items.map(\.job)
        guard items.contains(where: { $0.companion != nil }) else {
            // Jobs only: the enqueuer keeps the batch all or nothing (one statement, or its own
            // transaction when keys need a second one), so no BEGIN/COMMIT round trips here and
            // the one-by-one retry below never inserts a job twice.
            return try await pool.withConnection { c in try enqueuer.enqueue(jobs, on: c) }
        }
        return try await pool.transaction { tx in
            let results = try enqueuer.enqueue(jobs, on: tx)
            // Companions of one type are written together, in the order of their items.
            var groups: [ObjectIdentifier: (type: any EnqueueCompanion.Type, items: [any EnqueueCompanion], jobIDs: [Int64])] = [:]
            var order: [ObjectIdentifier] = []
            for (item, result) in zip(items, results) {
                guard let companion = item.companion else { continue }
                let key = ObjectIdentifier(type(of: companion))
                if groups[key] == nil {
                    groups[key] = (type(of: companion), [], [])
                    order.append(key)
                }
                groups[key]?.items.append(companion)
                groups[key]?.jobIDs.append(result.id)
            }
            for key in order {
                guard let group = groups[key] else { continue }
                try group.type.write(group.items, jobIDs: group.jobIDs, on: tx)
            }
            return results
        }
    }
}
