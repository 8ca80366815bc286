import Dispatch
import Foundation
import Postgres
import Support
import Synchronization

/// Inserts jobs: one or a batch, inside the caller's transaction when the connection is in
/// one (the NOTIFY is then delivered at its commit), with idempotency keys and debounced
/// wake-ups for workers. One per process; thread-safe.
public final class Enqueuer: Sendable {
    private let debouncer: Mutex<NotifyDebouncer>
    /// Sends a trailing NOTIFY for a queue outside any transaction; nil: always notify inline
    /// (one-shot processes such as the command).
    private let trailingSender: (@Sendable (String) -> Void)?

    public init(debounceWindowNanos: UInt64 = 1_000_000, trailingSender: (@Sendable (String) -> Void)? = nil) {
        self.debouncer = Mutex(NotifyDebouncer(windowNanos: debounceWindowNanos))
        self.trailingSender = trailingSender
    }

    /// An enqueuer whose trailing NOTIFYs go through `pool`.
    public convenience init(pool: ConnectionPool) {
        self.init(trailingSender: { queue in
            Task.detached {
                _ = try? await pool.withConnection { try $0.query(JobQueries.notify, [Channels.jobs, queue]) }
            }
        })
    }

    /// Inserts one job; returns its id and whether it was new.
    @discardableResult
    public func enqueue(_ job: NewJob, on connection: Connection) throws -> EnqueueResult {
        try enqueue([job], on: connection)[0]
    }

    /// Inserts a batch in one statement; answers in the order of `jobs`. A job whose key exists
    /// (among jobs not yet pruned; for `uniqueWhileActive`, among unfinished ones) is not
    /// inserted: its answer carries the existing job's id, kind and args.
    @discardableResult
    public func enqueue(_ jobs: [NewJob], on connection: Connection) throws -> [EnqueueResult] {
        guard !jobs.isEmpty else { return [] }
        for job in jobs { try job.validate() }
        let notify = shouldNotifyInline(queues: Set(jobs.map(\.queue)))
        var answers = [EnqueueResult?](repeating: nil, count: jobs.count)
        var pending = Array(jobs.indices)
        // A key that conflicted but whose job vanished before we read it (pruned or finished
        // in between) is inserted again; twice is plenty in practice.
        for _ in 0..<3 where !pending.isEmpty {
            let batch = pending.map { jobs[$0] }
            let rows: Rows
            if batch.count == 1, let j = batch.first {
                rows = try connection.query(JobQueries.insertOne, [
                    j.queue, j.kind, j.argsJSON, j.priority, j.maxAttempts, j.runAt, j.uniqueKey,
                    j.uniqueWhileActive, j.notifyOnFinish, notify,
                ])
            } else {
                rows = try connection.query(JobQueries.insert, [
                    batch.map(\.queue), batch.map(\.kind), batch.map(\.argsJSON), batch.map(\.priority),
                    batch.map(\.maxAttempts), batch.map(\.runAt), batch.map(\.uniqueKey),
                    batch.map(\.uniqueWhileActive), batch.map(\.notifyOnFinish), notify,
                ])
            }
            // Inserted rows come back in id order, which is input order; keyed rows are matched
            // by key (the first of duplicate keys in a batch wins).
            var insertedKeys: Set<String> = []
            var ids: [Int64] = []
            for row in rows {
                ids.append(try row.int64("id"))
                if let key = try row.optString("unique_key") { insertedKeys.insert(key) }
            }
            var nextID = ids.makeIterator()
            var claimedKeys: Set<String> = []
            var conflicted: [Int] = []
            for index in pending {
                let job = jobs[index]
                if let key = job.uniqueKey {
                    if insertedKeys.contains(key) && !claimedKeys.contains(key) {
                        claimedKeys.insert(key)
                        answers[index] = EnqueueResult(id: nextID.next()!, inserted: true)
                    } else {
                        conflicted.append(index)
                    }
                } else {
                    answers[index] = EnqueueResult(id: nextID.next()!, inserted: true)
                }
            }
            guard !conflicted.isEmpty else {
                pending = []
                break
            }
            let keys = Array(Set(conflicted.compactMap { jobs[$0].uniqueKey }))
            let existing = try connection.query(JobQueries.existingByKeys, [keys])
            var byKey: [String: EnqueueResult] = [:]
            for row in existing {
                byKey[try row.string("unique_key")] = EnqueueResult(
                    id: try row.int64("id"), inserted: false, existingKind: try row.string("kind"), existingArgs: try row.json("args"))
            }
            pending = []
            for index in conflicted {
                if let found = byKey[jobs[index].uniqueKey!] { answers[index] = found } else { pending.append(index) }
            }
        }
        guard pending.isEmpty else {
            throw QueueError.conflict("could not insert or find the jobs with keys \(pending.compactMap { jobs[$0].uniqueKey }); try again")
        }
        return answers.map { $0! }
    }

    /// Applies the debounce to the queues of one insert; plans trailing NOTIFYs as needed.
    private func shouldNotifyInline(queues: Set<String>) -> Bool {
        guard let trailingSender else { return true }
        let now = DispatchTime.now().uptimeNanoseconds
        var inline = false
        var trailing: [(String, UInt64)] = []
        debouncer.withLock { d in
            for queue in queues {
                switch d.decide(queue: queue, nowNanos: now) {
                case .now: inline = true
                case .trailing(let at): trailing.append((queue, at))
                case .covered: break
                }
            }
        }
        for (queue, at) in trailing {
            // A little after the window, so the insert that asked for it has usually committed.
            let delay = at > now ? at - now : 0
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(delay) + 1_000_000)) { [self] in
                if debouncer.withLock({ $0.trailingDue(queue: queue, nowNanos: DispatchTime.now().uptimeNanoseconds) }) {
                    trailingSender(queue)
                }
            }
        }
        return inline
    }
}
