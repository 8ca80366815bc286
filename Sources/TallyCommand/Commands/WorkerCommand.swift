import Foundation
import JobRuntime
import Jobs
import Postgres
import Queue
import Support
import Worker

struct WorkerCommand: Command {
    static let name = "worker"
    static let summary = "Run jobs: claim, run, retry, rescue, cron; stops gracefully on SIGTERM/SIGINT"
    static let usage = "[--queues NAME=N,...] [--id NAME]"
    static let options: Set<String> = ["queues", "id"]
    static let details = """
        Options:
          --queues NAME=N,...  queues to work and how many of each run at once in this process
                               (default: \(WorkerConfig.defaultQueues.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")))
          --id NAME            this worker's label (default: the host name); a random suffix is
                               added so a restarted worker never owns its predecessor's jobs

        Run as many workers, on as many machines, as the load needs: PostgreSQL is the only
        coordinator. On SIGTERM or SIGINT a worker stops claiming, lets running jobs finish
        within TALLY_SHUTDOWN_GRACE (30s), gives the rest back to the queue and exits 0, within
        the grace + 5s whatever the database does (what it cannot give back is left to its
        lease). A second signal exits at once.

        Settings (environment): TALLY_LEASE (30s), TALLY_LEASE_RENEW (10s), TALLY_RESCUE_INTERVAL (5s),
        TALLY_POLL_INTERVAL (2s), TALLY_SHUTDOWN_GRACE (30s), TALLY_BACKOFF_SCALE (1),
        TALLY_DB_POOL, TALLY_LOG_LEVEL (info), TALLY_SCHEDULE_<NAME> (a cron expression or off);
        TALLY_WORKER_METRICS_LISTEN (unset: none; e.g. 127.0.0.1:9101) serves GET /metrics (Prometheus);
        every command's database sessions: TALLY_DB_STATEMENT_TIMEOUT (30s), TALLY_DB_LOCK_TIMEOUT (10s),
        TALLY_DB_IDLE_IN_TRANSACTION_TIMEOUT (60s), TALLY_DB_TCP_TIMEOUT (30s; 0 turns any of them off).
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let queues = try args.option("queues").map(WorkerConfig.parseQueues) ?? WorkerConfig.defaultQueues
        let label = args.option("id") ?? WorkerConfig.defaultLabel()
        guard !label.isEmpty, label.count <= 100, !label.contains("/") else {
            throw CommandError.usage("--id must be 1 to 100 characters without '/'")
        }
        // Every setting is read here, once: a value that cannot be used stops the worker before
        // it starts (exit 2, naming the setting), not a job later.
        let registry: JobRegistry
        let config: WorkerConfig
        do {
            registry = try JobRegistry.standard(environment: context.environment)
            config = try WorkerConfig(queues: queues, label: label, environment: context.environment)
        } catch {
            throw CommandError.usage("\(error)")
        }
        try checkMigrated(context)
        let pool = WorkerPool(config: config, registry: registry, databaseURL: context.databaseURL, environment: context.environment)
        var services: [any Service] = [pool]
        if let listen = context.environment["TALLY_WORKER_METRICS_LISTEN"], !listen.isEmpty {
            do {
                services.append(try WorkerMetricsServer(listen: listen, metrics: pool.metrics, databaseURL: context.databaseURL,
                                                        token: context.environment["TALLY_METRICS_TOKEN"], limits: config.sessionLimits))
            } catch {
                throw CommandError.usage("\(error)")
            }
        }
        try await ServiceRunner.run(services)
        return 0
    }

    @MainActor static func checkMigrated(_ context: CommandContext) throws {
        let connection = try context.connect()
        guard try JobStore.isMigrated(on: connection) else {
            throw CommandError.failure("the database has no job tables yet; run `tally migrate` first")
        }
    }
}
