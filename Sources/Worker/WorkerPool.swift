import Dispatch
import Foundation
import JobRuntime
import Postgres
import Queue
import Support
import Synchronization

/// A worker process's pool: producers (one per queue) claim and run jobs; the completer writes
/// outcomes back in batches; the lease renewer, rescuer, scheduler, periodic enqueuer and
/// watchdog keep the queue healthy; one LISTEN connection wakes producers and carries operator
/// commands. Every part is its own file; this one wires them and runs the graceful shutdown.
public final class WorkerPool: Service {
    public var name: String { "worker" }
    /// The lease holder name: `--id` label + "/" + a random per-process nonce, so a restarted
    /// worker with the same label never owns its predecessor's jobs.
    public let workerID: String
    public let config: WorkerConfig

    private let registry: JobRegistry
    private let pool: ConnectionPool
    private let databaseURL: String
    /// The LISTEN connection's URL; nil: none, producers poll (pooled, no
    /// `TALLY_LISTEN_DATABASE_URL`).
    private let listenURL: String?
    private let enqueuer: Enqueuer
    private let held = HeldJobs()
    private let counters = WorkerCounters()
    /// This process's Prometheus metrics (`tally worker` serves them on TALLY_WORKER_METRICS_LISTEN).
    public let metrics = WorkerMetrics()
    private let completer: Completer
    private let producers: [String: Producer]
    private let renewer: LeaseRenewer
    private let rescuer: Rescuer
    private let scheduler: Scheduler
    private let periodic: PeriodicEnqueuer
    private let watchdog: Watchdog
    private let stopRequested = WakeSignal()
    private let stopping = Atomic<Bool>(false)
    private let jobEnded = WakeSignal()
    private let listener: Mutex<Listener?> = Mutex(nil)

    public init(config: WorkerConfig, registry: JobRegistry, databaseURL: String, environment: Environment = Environment()) {
        self.config = config
        self.registry = registry
        self.databaseURL = databaseURL
        self.listenURL = config.sessionLimits.listenURL(databaseURL: databaseURL, environment: environment)
        let workerID = config.label + "/" + Crypto.randomHex(4)
        self.workerID = workerID
        // Custom plans for every statement: the worker's statements are batches (claim, finish,
        // a handler's arrays), and a generic plan cached while the job table was young can
        // scan the whole table once it is not: the ledger's batch finish went from 6 ms to
        // 66 ms per 500 jobs on a fresh database that way. Planning each batch costs ~0.1 ms.
        let settings = ["plan_cache_mode": "force_custom_plan"]
        let pool = ConnectionPool(url: databaseURL, maxConnections: config.maxConnections, applicationName: "tally-worker",
                                  settings: settings, limits: config.sessionLimits)
        self.pool = pool
        let enqueuer = Enqueuer(pool: pool)
        self.enqueuer = enqueuer
        let held = self.held
        let counters = self.counters

        let schedulerLoop = Loop(name: "scheduler")
        let metrics = self.metrics
        let completer = Completer(pool: pool, workerID: workerID, held: held, maxBatch: config.maxCompletionBatch, metrics: metrics,
                                  dueSoon: { [interval = config.schedulerInterval] in
                                      Scheduler.dueIn($0, loop: schedulerLoop, interval: interval)
                                  })
        self.completer = completer
        let executor = Executor(registry: registry, pool: pool, enqueuer: enqueuer, environment: environment,
                                workerID: workerID, backoff: config.backoff, held: held, completer: completer,
                                counters: counters, metrics: metrics)
        let jobEnded = self.jobEnded
        var byQueue: [String: Producer] = [:]
        for (queue, limit) in config.queues {
            byQueue[queue] = Producer(queue: queue, limit: limit, config: config, pool: pool, workerID: workerID,
                                        executor: executor, held: held, completer: completer, onJobEnded: { jobEnded.signal() })
        }
        let producers = byQueue
        self.producers = producers
        // The scheduler's promotions wake local producers directly (the NOTIFY it sends reaches
        // the other processes).
        self.scheduler = Scheduler(loop: schedulerLoop, pool: pool, config: config, promoted: { queues in
            for q in queues { producers[q]?.wakeUp() }
        })
        // Lease renewal never waits behind job work for a connection: it has one of its own (a
        // pool of one, which reconnects after an error). A cancel it does not answer within a
        // second means the server or the network is gone: cut it and connect anew.
        let renewerPool = ConnectionPool(url: databaseURL, maxConnections: 1, applicationName: "tally-lease-renewer",
                                         settings: settings, limits: config.sessionLimits, cancelGrace: 1)
        self.renewer = LeaseRenewer(pool: renewerPool, workerID: workerID, held: held, config: config, metrics: metrics, counters: counters)
        self.rescuer = Rescuer(pool: pool, config: config, rescued: { schedulerLoop.poke() }, metrics: metrics)
        self.periodic = PeriodicEnqueuer(pool: pool, enqueuer: enqueuer, schedules: registry.schedules)
        self.watchdog = Watchdog(held: held)
    }

    public func shutdown() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        stopRequested.signal()
    }

    /// A stop ends within TALLY_SHUTDOWN_GRACE + 5 s whatever the database does (issue 10):
    /// the graceful stop gives every step after the grace period its own deadline, all within
    /// `stopMargin`; should something nobody foresaw still hold it, the service runner exits
    /// the process half a second later. The last half second is left for the exit itself.
    static let stopMargin = 4.0

    public var stopDeadline: TimeInterval? { config.shutdownGrace + Self.stopMargin + 0.5 }

    public func abandoned() -> String {
        let ids = held.leases.map(\.id)
        return "\(ids.count) jobs still held (ids \(ids.prefix(100).map(String.init).joined(separator: ",")))"
            + "; whatever still runs under \(workerID) in the database is left to its lease"
    }

    public func run() async throws {
        try await register()
        if let listenURL {
            let listener = Listener(
                url: listenURL, channels: [Channels.jobs, Channels.control], limits: config.sessionLimits,
                onConnect: { [producers] in for p in producers.values { p.wakeUp() } },
                onNotification: { [producers, held] n in
                    WorkerPool.handle(n, producers: producers, held: held)
                })
            listener.start()
            self.listener.withLock { $0 = listener }
        } else {
            // Pooled with no direct URL for LISTEN: producers claim every TALLY_POLL_INTERVAL,
            // and operator cancels reach a running job only through its lease renewal.
            Log.info("no LISTEN connection (TALLY_DB_PREPARED=off and no TALLY_LISTEN_DATABASE_URL): polling",
                     ["poll_interval_s": config.pollInterval])
        }
        Log.info("worker started", ["worker_id": workerID, "queues": config.queues.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
                                    "schedules": registry.schedules.count])

        // Unstructured: a part blocked in a call to a database that does not answer cannot be
        // cancelled, and a task group would wait for it for ever. The stop waits for the parts
        // until its deadline and leaves without those still stuck.
        var parts: [Task<Void, Never>] = producers.values.map { p in Task { await p.run() } }
        parts.append(Task { await self.completer.run() })
        parts.append(Task { await self.renewer.run() })
        parts.append(Task { await self.rescuer.run() })
        parts.append(Task { await self.scheduler.run() })
        parts.append(Task { await self.periodic.run() })
        parts.append(Task { await self.watchdog.run() })
        await stopRequested.wait(seconds: nil)
        let graceEnd = Deadline.after(config.shutdownGrace)
        await gracefulStop(graceEnd: graceEnd)
        let ended = await graceEnd.adding(Self.stopMargin).race { [parts] in for part in parts { await part.value } }
        if ended == nil {
            Log.warn("leaving parts of the worker that are still waiting on the database", [:])
        }
        Log.info("worker stopped", ["worker_id": workerID])
        Log.flush()
    }

    static func handle(_ n: PostgresNotification, producers: [String: Producer], held: HeldJobs) {
        switch n.channel {
        case Channels.jobs:
            producers[n.payload]?.wakeUp()
        case Channels.control:
            let parts = n.payload.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { return }
            switch parts[0] {
            case "cancel":
                if let id = Int64(parts[1]), held.cancel(id, reason: .operatorCancelled) {
                    Log.info("cancelling job at an operator's request", ["job_id": id])
                }
            case "resume":
                producers[String(parts[1])]?.wakeUp()
            default:
                break
            }
        default:
            break
        }
    }

    /// Stop claiming; let running jobs finish within the grace period; cancel the rest; write
    /// every outcome; give back what is still held (`available`, attempt not used); leave.
    ///
    /// Each step after the grace period has a deadline (seconds past `graceEnd`: claims 1,
    /// unwinding 2, outcomes 3, give-back 3.5, listener 3.75), so a database that refuses
    /// connections or never answers delays the exit by `stopMargin` at most. What cannot be
    /// written or given back stays `running` under this worker in the database, and is
    /// rescued once its lease lapses (TALLY_LEASE + TALLY_RESCUE_INTERVAL).
    private func gracefulStop(graceEnd: Deadline) async {
        await stopClaiming(by: graceEnd.adding(1))
        Log.info("shutting down: no more claims", ["running": held.runningCount, "grace_s": config.shutdownGrace])
        await waitForRunningJobs(by: graceEnd)
        // What this worker holds now is what may be left to the lease if the database is away.
        let heldAtGraceEnd = held.leases.map(\.id)
        let unfinished = held.runningCount
        if unfinished > 0 {
            Log.warn("grace period over, interrupting running jobs; they go back to the queue", ["count": unfinished])
            held.cancelAll(reason: .shutdown)
            // Give cancelled runs a moment to unwind (a run blocked in a database call cannot be
            // interrupted; the give-back below makes whatever it does later not apply).
            await waitForRunningJobs(by: min(max(graceEnd, Deadline.now).adding(1), graceEnd.adding(2)))
        }
        let unwritten = await completer.finish(by: graceEnd.adding(3))
        if unwritten > 0 {
            Log.warn("could not record finished jobs at shutdown; they are left to their lease and will run again",
                     ["count": unwritten])
        }
        switch await giveBack(by: graceEnd.adding(3.5)) {
        case .success(let given):
            if given > 0 { Log.info("gave back unfinished jobs", ["count": given]) }
        case .failure(let error):
            // Those of them not finished in the database meanwhile are still `running` there.
            Log.error("could not give back jobs at shutdown; they are left to their lease and will be rescued when it lapses",
                      ["worker_id": workerID, "held_at_grace_end": heldAtGraceEnd.count,
                       "job_ids": heldAtGraceEnd.prefix(100).map(String.init).joined(separator: ","), "error": error])
        }
        renewer.loop.stop()
        rescuer.loop.stop()
        scheduler.loop.stop()
        periodic.loop.stop()
        watchdog.loop.stop()
        if let listener = listener.withLock({ $0 }) {
            // stop() waits for the listener's thread: wait off the cooperative pool.
            let wait = graceEnd.adding(3.75).remaining
            let stopped = await withCheckedContinuation { (done: CheckedContinuation<Bool, Never>) in
                DispatchQueue.global().async { done.resume(returning: listener.stop(waitingAtMost: wait)) }
            }
            if !stopped { Log.warn("the LISTEN connection is still connecting; leaving it", [:]) }
        }
        pool.close()
    }

    /// Gives back every job still `running` under this worker and deregisters it, trying
    /// again while the database refuses, until `deadline`.
    private func giveBack(by deadline: Deadline) async -> Result<Int, any Error> {
        let workerID = self.workerID
        let pool = self.pool
        var retry = 0.1
        while true {
            let attempt = await deadline.race {
                try await pool.withConnection { c -> Int in
                    let n = try JobStore.giveBack(workerID: workerID, on: c).count
                    try JobStore.deregisterWorker(id: workerID, on: c)
                    return n
                }
            }
            switch attempt {
            case .success(let n)?:
                return .success(n)
            case .failure? where deadline.remaining > retry:
                try? await Task.sleep(for: .milliseconds(Int(retry * 1000)))
                retry = min(retry * 2, 1)
            case .failure(let error)?:
                return .failure(error)
            case nil:
                return .failure(PostgresError(kind: .connection, message: "the database did not answer before the shutdown deadline"))
            }
        }
    }

    /// Stops the producers and waits until none has a claim in flight: a claim's jobs are
    /// `running` in the database before they are held here, and counting them too early would
    /// give them back unstarted (seen in CI: a SIGTERM 100 ms after start gave back a job that
    /// had 8 s of grace to finish). A claim is one short statement, so the wait may run past
    /// the grace period (to `deadline`) rather than leave jobs to lapse after exit.
    private func stopClaiming(by deadline: Deadline) async {
        for p in producers.values { p.stop() }
        for p in producers.values {
            if await !p.waitStopped(seconds: deadline.remaining) {
                Log.warn("a claim is still in flight at shutdown; jobs it takes will be rescued when their lease lapses",
                         ["queue": p.queue])
            }
        }
    }

    /// Returns when no job runs here any more, or at `deadline`.
    private func waitForRunningJobs(by deadline: Deadline) async {
        while held.runningCount > 0 && !deadline.hasPassed {
            await jobEnded.wait(seconds: deadline.remaining)
        }
    }

    private func register() async throws {
        let workerID = self.workerID
        let label = config.label
        let queues = config.queues
        let host = WorkerConfig.defaultLabel()
        let pid = Int(getpid())
        _ = try await pool.withConnection { c in
            try JobStore.registerWorker(id: workerID, label: label, host: host, pid: pid, queues: queues, on: c)
        }
    }
}
