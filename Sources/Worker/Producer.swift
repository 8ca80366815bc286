import Dispatch
import Foundation
import JobRuntime
import Postgres
import Queue
import Support
import Synchronization

/// Claims jobs of one queue and starts them, within the queue's concurrency limit in this
/// process. Wakes on NOTIFY (via `wakeUp`), when enough running jobs end, or on the fallback poll.
final class Producer: Sendable {
    let queue: String
    private let state: Mutex<ProducerState>
    private let wake = WakeSignal()
    /// Signalled once `run()` has returned: no claim is in flight any more.
    private let exited = WakeSignal()
    private let hasExited = Atomic<Bool>(false)
    private let pool: ConnectionPool
    private let workerID: String
    private let leaseMilliseconds: Int64
    /// `TALLY_BATCH` (WorkerConfig.batching).
    private let batching: Bool
    private let executor: Executor
    private let held: HeldJobs
    private let completer: Completer
    /// Called whenever one of this producer's jobs ends (shutdown waits on it).
    private let onJobEnded: @Sendable () -> Void

    init(queue: String, limit: Int, config: WorkerConfig, pool: ConnectionPool, workerID: String,
         executor: Executor, held: HeldJobs, completer: Completer, onJobEnded: @escaping @Sendable () -> Void) {
        self.onJobEnded = onJobEnded
        self.queue = queue
        self.state = Mutex(ProducerState(limit: limit, maxBatch: config.maxClaimBatch, pollInterval: config.pollInterval))
        self.pool = pool
        self.workerID = workerID
        self.leaseMilliseconds = Int64(config.lease * 1000)
        self.batching = config.batching
        self.executor = executor
        self.held = held
        self.completer = completer
    }

    var running: Int { state.withLock { $0.running } }

    func run() async {
        while true {
            let backlog = completer.backlog
            let now = Self.now()
            let action = state.withLock { s -> ProducerState.Action in
                s.setBacklog(backlog)
                return s.next(now: now)
            }
            switch action {
            case .stop:
                hasExited.store(true, ordering: .releasing)
                exited.signal()
                return
            case .wait(let seconds):
                await wake.wait(seconds: seconds)
            case .claim(let count):
                await claim(count)
            }
        }
    }

    private func claim(_ count: Int) async {
        let queue = self.queue
        let workerID = self.workerID
        let lease = leaseMilliseconds
        do {
            let jobs = try await pool.withConnection { connection in
                try JobStore.claim(queue: queue, limit: count, workerID: workerID, lease: .milliseconds(lease), on: connection)
            }
            state.withLock { $0.claimed(jobs.count, asked: count) }
            executor.metrics.claimed(queue: queue, count: jobs.count)
            let plan = BatchExecutor.plan(jobs, registry: executor.registry, batching: batching)
            for job in plan.single { start(job) }
            for batch in plan.batches { start(batch: batch) }
        } catch {
            state.withLock { $0.claimFailed(now: Self.now()) }
            Log.warn("claim failed, backing off", ["queue": queue, "error": error])
        }
    }

    private func start(_ job: ClaimedJob) {
        let hold = held.hold(job.id, attempt: job.attempt, timeout: executor.timeout(for: job.kind), now: DispatchTime.now().uptimeNanoseconds)
        let executor = self.executor
        let task = Task {
            await executor.execute(job, hold: hold)
            self.ended()
        }
        held.attach(hold, task: task)
    }

    /// Jobs of a `BatchJob` kind claimed together: one task runs them in one transaction.
    private func start(batch: [ClaimedJob]) {
        let now = DispatchTime.now().uptimeNanoseconds
        let holds = batch.map { held.hold($0.id, attempt: $0.attempt, timeout: executor.timeout(for: $0.kind), now: now) }
        let batchExecutor = BatchExecutor(executor: executor)
        let task = Task {
            await batchExecutor.execute(batch, holds: holds)
            for _ in batch { self.ended() }
        }
        for hold in holds { held.attach(hold, task: task, shared: true) }
    }

    private func ended() {
        if state.withLock({ $0.jobFinished() }) { wake.signal() }
        onJobEnded()
    }

    /// Work may be waiting (NOTIFY, resume, reconnect).
    func wakeUp() {
        state.withLock { $0.woken() }
        wake.signal()
    }

    /// Stops claiming; running jobs go on.
    func stop() {
        state.withLock { $0.stop() }
        wake.signal()
    }

    /// Waits (at most `seconds`) until `run()` has returned after `stop()`. A claim in flight
    /// when the stop came has marked its jobs `running` in the database; once this returns they
    /// are held here too, so shutdown lets them finish instead of giving them back unstarted.
    /// Returns false when it had not stopped in time.
    func waitStopped(seconds: Double) async -> Bool {
        await exited.wait(seconds: seconds)
        return hasExited.load(ordering: .acquiring)
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
