import Dispatch
import Foundation
import Jobs
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
    private let enqueuer: Enqueuer
    private let held = HeldJobs()
    private let counters = WorkerCounters()
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
        let workerID = config.label + "/" + Crypto.randomHex(4)
        self.workerID = workerID
        // Custom plans for every statement: the worker's statements are batches (claim, finish,
        // a handler's arrays), and a generic plan cached while the job table was young can
        // scan the whole table once it is not: the ledger's batch finish went from 6 ms to
        // 66 ms per 500 jobs on a fresh database that way. Planning each batch costs ~0.1 ms.
        let pool = ConnectionPool(url: databaseURL, maxConnections: config.maxConnections, applicationName: "tally-worker",
                                  settings: ["plan_cache_mode": "force_custom_plan"])
        self.pool = pool
        let enqueuer = Enqueuer(pool: pool)
        self.enqueuer = enqueuer
        let held = self.held
        let counters = self.counters

        let schedulerLoop = Loop(name: "scheduler")
        let completer = Completer(pool: pool, workerID: workerID, held: held, maxBatch: config.maxCompletionBatch,
                                  dueSoon: { [interval = config.schedulerInterval] in
                                      Scheduler.dueIn($0, loop: schedulerLoop, interval: interval)
                                  })
        self.completer = completer
        let executor = Executor(registry: registry, pool: pool, enqueuer: enqueuer, environment: environment,
                                workerID: workerID, backoff: config.backoff, held: held, completer: completer,
                                counters: counters)
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
        self.renewer = LeaseRenewer(pool: pool, workerID: workerID, held: held, config: config, counters: counters)
        self.rescuer = Rescuer(pool: pool, config: config, rescued: { schedulerLoop.poke() })
        self.periodic = PeriodicEnqueuer(pool: pool, enqueuer: enqueuer, schedules: registry.schedules)
        self.watchdog = Watchdog(held: held)
    }

    public func shutdown() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        stopRequested.signal()
    }

    public func run() async throws {
        try await register()
        let listener = Listener(
            url: databaseURL, channels: [Channels.jobs, Channels.control],
            onConnect: { [producers] in for p in producers.values { p.wakeUp() } },
            onNotification: { [producers, held] n in
                WorkerPool.handle(n, producers: producers, held: held)
            })
        listener.start()
        self.listener.withLock { $0 = listener }
        Log.info("worker started", ["worker_id": workerID, "queues": config.queues.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
                                    "schedules": registry.schedules.count])

        await withTaskGroup(of: Void.self) { group in
            for p in producers.values { group.addTask { await p.run() } }
            group.addTask { await self.completer.run() }
            group.addTask { await self.renewer.run() }
            group.addTask { await self.rescuer.run() }
            group.addTask { await self.scheduler.run() }
            group.addTask { await self.periodic.run() }
            group.addTask { await self.watchdog.run() }
            group.addTask {
                await self.stopRequested.wait(seconds: nil)
                await self.gracefulStop()
            }
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
    private func gracefulStop() async {
        let graceEnd = DispatchTime.now().uptimeNanoseconds + UInt64(config.shutdownGrace * 1e9)
        await stopClaiming(deadline: graceEnd)
        Log.info("shutting down: no more claims", ["running": held.runningCount, "grace_s": config.shutdownGrace])
        await waitForRunningJobs(deadline: graceEnd)
        let unfinished = held.runningCount
        if unfinished > 0 {
            Log.warn("grace period over, interrupting running jobs; they go back to the queue", ["count": unfinished])
            held.cancelAll(reason: .shutdown)
            // Give cancelled runs a moment to unwind (a run blocked in a database call cannot be
            // interrupted; the give-back below makes whatever it does later not apply).
            await waitForRunningJobs(deadline: DispatchTime.now().uptimeNanoseconds + 2_000_000_000)
        }
        await completer.finish(within: 10)
        let workerID = self.workerID
        do {
            let given = try await pool.withConnection { c -> Int in
                let n = try c.query(JobQueries.giveBack, [workerID]).count
                try c.query(JobQueries.deregisterWorker, [workerID])
                return n
            }
            if given > 0 { Log.info("gave back unfinished jobs", ["count": given]) }
        } catch {
            Log.error("could not give back jobs at shutdown; their leases will lapse and they will be rescued", ["error": error])
        }
        renewer.loop.stop()
        rescuer.loop.stop()
        scheduler.loop.stop()
        periodic.loop.stop()
        watchdog.loop.stop()
        if let listener = listener.withLock({ $0 }) {
            // stop() waits for the listener's thread: wait off the cooperative pool.
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    listener.stop()
                    done.resume()
                }
            }
        }
        pool.close()
    }

    /// Stops the producers and waits until none has a claim in flight: a claim's jobs are
    /// `running` in the database before they are held here, and counting them too early would
    /// give them back unstarted (seen in CI: a SIGTERM 100 ms after start gave back a job that
    /// had 8 s of grace to finish). A claim is one short statement, so the wait may run a few
    /// seconds past the grace period rather than leave jobs to lapse after exit.
    private func stopClaiming(deadline: UInt64) async {
        for p in producers.values { p.stop() }
        let latest = deadline + 5_000_000_000
        for p in producers.values {
            let now = DispatchTime.now().uptimeNanoseconds
            if await !p.waitStopped(seconds: now < latest ? Double(latest - now) / 1e9 : 0) {
                Log.warn("a claim is still in flight at shutdown; jobs it takes will be rescued when their lease lapses",
                         ["queue": p.queue])
            }
        }
    }

    /// Returns when no job runs here any more, or at `deadline` (uptime ns).
    private func waitForRunningJobs(deadline: UInt64) async {
        while held.runningCount > 0 {
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < deadline else { return }
            await jobEnded.wait(seconds: Double(deadline - now) / 1e9)
        }
    }

    private func register() async throws {
        let workerID = self.workerID
        let label = config.label
        let queues = JSON.object(config.queues.mapValues { JSON.int($0) })
        let host = WorkerConfig.defaultLabel()
        let pid = Int(getpid())
        _ = try await pool.withConnection { c in
            try c.query(JobQueries.registerWorker, [workerID, label, host, pid, queues])
        }
    }
}
