import Dispatch
import Foundation
import Postgres
import Support
import Synchronization

/// Inserts jobs: one or a batch, inside the caller's transaction when the connection is in
/// one (the NOTIFY is then delivered at its commit), with idempotency keys and debounced
/// wake-ups for workers. One per process; thread-safe.
public final class Enqueuer: Sendable {
    /// How rows reach the job table.
    public enum Path: Sendable {
        /// INSERT, as the owner role (workers, commands, cron).
        case table
        /// Through `tally_ingress_enqueue` (sql/0011), the only way the restricted ingress role
        /// may enqueue: PostgreSQL checks each job's kind, queue, args and key first.
        case ingressFunction
    }

    private let path: Path
    private let debouncer: Mutex<NotifyDebouncer>
    /// Sends a trailing NOTIFY for a queue outside any transaction; nil: always notify inline
    /// (one-shot processes such as the command).
    private let trailingSender: (@Sendable (String) -> Void)?

    /// Batches of more jobs than this (none keyed) go through COPY; `Int.max`: never.
    private let copyAbove: Int
    /// `Connection.copyIn`'s message size for those.
    private let copyChunkBytes: Int

    /// `copyThreshold`, `copyChunkBytes`: see `Enqueuer.copyThreshold` and
    /// `Connection.defaultCopyChunkBytes`; other values are for measuring them.
    public init(path: Path = .table, debounceWindowNanos: UInt64 = 1_000_000, copyThreshold: Int = Enqueuer.copyThreshold,
                copyChunkBytes: Int = Connection.defaultCopyChunkBytes, trailingSender: (@Sendable (String) -> Void)? = nil) {
        self.path = path
        self.copyAbove = copyThreshold
        self.copyChunkBytes = copyChunkBytes
        self.debouncer = Mutex(NotifyDebouncer(windowNanos: debounceWindowNanos))
        self.trailingSender = trailingSender
    }

    /// An enqueuer whose trailing NOTIFYs go through `pool`.
    public convenience init(pool: ConnectionPool, path: Path = .table, debounceWindowNanos: UInt64 = 1_000_000,
                            copyThreshold: Int = Enqueuer.copyThreshold, copyChunkBytes: Int = Connection.defaultCopyChunkBytes) {
        self.init(path: path, debounceWindowNanos: debounceWindowNanos, copyThreshold: copyThreshold,
                  copyChunkBytes: copyChunkBytes, trailingSender: { queue in
            Task.detached {
                _ = try? await pool.withConnection { try JobStore.notify(channel: Channels.jobs, payload: queue, on: $0) }
            }
        })
    }

    /// Inserts one job; returns its id and whether it was new.
    @discardableResult
    public func enqueue(_ job: NewJob, on connection: Connection) throws -> EnqueueResult {
        try enqueue([job], on: connection)[0]
    }

    /// Inserts a batch in one statement (more than `copyThreshold` jobs without keys: by COPY,
    /// see `copyInsert`); answers in the order of `jobs`. A job whose key exists
    /// (among jobs not yet pruned; for `uniqueWhileActive`, among unfinished ones) is not
    /// inserted: its answer carries the existing job's id, kind and args. All or nothing: a
    /// batch that needs more than one statement (keys that conflict) runs in a transaction
    /// when the caller has none, so a failure leaves no job behind to be inserted twice by a retry.
    @discardableResult
    public func enqueue(_ jobs: [NewJob], on connection: Connection) throws -> [EnqueueResult] {
        guard !jobs.isEmpty else { return [] }
        for job in jobs { try job.validate() }
        let plan = planNotify(queues: Set(jobs.map(\.queue)))
        let answers: [EnqueueResult]
        if path == .table && jobs.count > copyAbove && !jobs.contains(where: { $0.uniqueKey != nil }) {
            // COPY needs its reserved ids and its now() in one transaction: the caller's, or its own.
            answers = connection.isInTransaction
                ? try copyInsert(jobs, notify: plan.inline, on: connection)
                : try connection.transaction { tx in try copyInsert(jobs, notify: plan.inline, on: tx) }
        } else if jobs.count > 1 && !connection.isInTransaction && jobs.contains(where: { $0.uniqueKey != nil }) {
            answers = try connection.transaction { tx in try insert(jobs, notify: plan.inline, on: tx) }
        } else {
            answers = try insert(jobs, notify: plan.inline, on: connection)
        }
        // A trailing NOTIFY sent before the insert commits would wake workers to find nothing.
        if !plan.trailing.isEmpty { connection.onCommit { self.scheduleTrailing(plan.trailing) } }
        return answers
    }

    /// Batches of more jobs than this, none with an idempotency key, go through COPY
    /// (`copyInsert`) rather than the one `unnest` INSERT. COPY costs two more round trips
    /// (the id reservation, the COPY's own start) and, outside a transaction, BEGIN and COMMIT
    /// statements; per row it is much cheaper (no array literals to build and parse, no CTE).
    /// Measured with `TALLY_BENCH_COPY_SWEEP=1 ops/bench --only queue` (release build, one
    /// connection, fsync on, autocommit batches into an emptied table, this shared 2-core
    /// machine; jobs/s, INSERT vs COPY, two runs each, two sweeps): 10: 35–37k vs 19–20k;
    /// 50: 89–96k vs 70–71k; 100: 107–119k vs 97–102k, then 135k vs 133k; 150: 126–150k vs
    /// 155–164k; 200: 124–133k vs 137–173k; 400: 148–151k vs 167–172k; 1,000: 103–129k vs
    /// 147–178k; 10,000: 133–139k vs 253–288k. COPY is even at 100 and ahead from 150.
    public static let copyThreshold = 128

    /// Inserts a batch without keys by `COPY jobs … FROM STDIN (FORMAT binary)`, in the
    /// transaction the connection is in (the caller makes sure there is one). COPY returns no
    /// ids, so they are taken first from the identity's sequence (`reserveForCopy`, one round
    /// trip) and written with the rows: the answers are in input order, ids increasing with it
    /// (contiguous unless another session took ids at the same moment), as with `insert`.
    /// `now()` is read in that same statement: it is the transaction's start time, the very
    /// value the INSERT's `now()` would use, so `state` (scheduled when `run_at` is later) and
    /// a missing `run_at` come out as `insert` computes them, with no staging table to copy
    /// through. The NOTIFY is `insert`'s: one per queue that got an available job, when `notify`.
    private func copyInsert(_ jobs: [NewJob], notify: Bool, on connection: Connection) throws -> [EnqueueResult] {
        guard let reserved = try connection.query(JobQueries.reserveForCopy, [jobs.count]).first else {
            throw QueueError.conflict("reserving ids for a COPY of \(jobs.count) jobs returned nothing; try again")
        }
        let now = try reserved.int64("now_us")
        // nextval gives them increasing already; sorted, input order and id order agree whatever
        // order the array came in.
        let ids = try reserved.int64Array("ids").sorted()
        guard ids.count == jobs.count else {
            throw QueueError.conflict("reserved \(ids.count) ids for a COPY of \(jobs.count) jobs; try again")
        }
        var availableQueues: Set<String> = []
        var lastAvailable: String?  // batches are mostly one queue: hash it once, not per row
        let copied = try connection.copyIn(JobQueries.copy, columns: JobQueries.copyColumns, rows: zip(ids, jobs),
                                            chunkBytes: copyChunkBytes) { w, row in
            let (id, job) = row
            let runAt = try job.runAt.map(CopyBinaryWriter.postgresMicros) ?? now
            let scheduled = runAt > now
            if !scheduled && job.queue != lastAvailable {
                availableQueues.insert(job.queue)
                lastAvailable = job.queue
            }
            try w.int8(id)
            try w.text(job.queue)
            try w.text(job.kind)
            try w.jsonb(job.argsJSON)
            try w.enumLabel(scheduled ? JobState.scheduled.rawValue : JobState.available.rawValue)
            try w.int2(job.priority)
            try w.int4(job.maxAttempts)
            try w.timestamptz(microsSincePostgresEpoch: runAt)
            try w.bool(job.notifyOnFinish)
        }
        guard copied == jobs.count else {
            throw QueueError.conflict("the COPY of \(jobs.count) jobs wrote \(copied); try again")
        }
        if notify && !availableQueues.isEmpty {
            try connection.query(JobQueries.notifyQueues, [availableQueues.sorted()])
        }
        return ids.map { EnqueueResult(id: $0, inserted: true) }
    }

    private func insert(_ jobs: [NewJob], notify: Bool, on connection: Connection) throws -> [EnqueueResult] {
        if path == .table, jobs.count == 1, let j = jobs.first, j.uniqueKey == nil, !notify {
            let row = try connection.query(JobQueries.insertPlain, [
                j.queue, j.kind, j.argsJSON, j.priority, j.maxAttempts, j.runAt, j.notifyOnFinish,
            ]).first
            guard let row else { throw QueueError.conflict("the insert of a \(j.kind) job returned no id; try again") }
            return [EnqueueResult(id: try row.int64("id"), inserted: true)]
        }
        var answers = [EnqueueResult?](repeating: nil, count: jobs.count)
        var pending = Array(jobs.indices)
        // A key that conflicted but whose job vanished before we read it (pruned or finished
        // in between) is inserted again; twice is plenty in practice.
        for _ in 0..<3 where !pending.isEmpty {
            let batch = pending.map { jobs[$0] }
            let rows: Rows
            if path == .table, batch.count == 1, let j = batch.first {
                rows = try connection.query(JobQueries.insertOne, [
                    j.queue, j.kind, j.argsJSON, j.priority, j.maxAttempts, j.runAt, j.uniqueKey,
                    j.uniqueWhileActive, j.notifyOnFinish, notify,
                ])
            } else {
                rows = try connection.query(path == .table ? JobQueries.insert : JobQueries.insertThroughIngressFunction, [
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

    /// Applies the debounce to the queues of one insert: whether it notifies inline, and the
    /// queues that want a trailing NOTIFY once it commits.
    private func planNotify(queues: Set<String>) -> (inline: Bool, trailing: [String]) {
        guard trailingSender != nil else { return (true, []) }
        let now = DispatchTime.now().uptimeNanoseconds
        return debouncer.withLock { d in
            var inline = false
            var trailing: [String] = []
            for queue in queues {
                if d.decide(queue: queue, nowNanos: now) { inline = true } else { trailing.append(queue) }
            }
            // One inline NOTIFY per statement wakes every queue it inserted into.
            return inline ? (true, []) : (false, trailing)
        }
    }

    /// Called once the insert that skipped the NOTIFY has committed.
    private func scheduleTrailing(_ queues: [String]) {
        guard let trailingSender else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        for queue in queues {
            guard let at = debouncer.withLock({ $0.committed(queue: queue, nowNanos: now) }) else { continue }
            trailing(queue, at: at, now: now, sender: trailingSender)
        }
    }

    private func trailing(_ queue: String, at: UInt64, now: UInt64, sender: @escaping @Sendable (String) -> Void) {
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(at > now ? at - now : 0))) { [self] in
            let now = DispatchTime.now().uptimeNanoseconds
            switch debouncer.withLock({ $0.trailingDue(queue: queue, nowNanos: now) }) {
            case .send: sender(queue)
            case .skip: break
            case .rearm(let at): trailing(queue, at: at, now: now, sender: sender)
            }
        }
    }
}
