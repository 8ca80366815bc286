import Foundation
import Postgres
import Queue
import Support

/// How a worker process runs: its queues and their concurrency, its name, and its timings.
public struct WorkerConfig: Sendable {
    /// Queue name → how many of its jobs run at once in this process.
    public var queues: [String: Int]
    /// The `--id` label; the lease holder is this plus a random per-process nonce.
    public var label: String
    /// How long a claimed job is held without renewal before another worker may rescue it.
    public var lease: TimeInterval
    /// How often leases (and the worker's heartbeat) are renewed.
    public var leaseRenewInterval: TimeInterval
    /// How often lapsed leases are looked for.
    public var rescueInterval: TimeInterval
    /// The fallback poll when no NOTIFY arrives (NOTIFY normally wakes workers at once).
    public var pollInterval: TimeInterval
    /// The longest the scheduler waits before looking for due scheduled and retryable jobs.
    public var schedulerInterval: TimeInterval
    /// At shutdown, how long running jobs may take to finish before they are given back.
    public var shutdownGrace: TimeInterval
    public var backoff: Backoff
    /// The most jobs one claim statement takes.
    public var maxClaimBatch: Int
    /// The most finished jobs one completion statement writes.
    public var maxCompletionBatch: Int
    /// Connections the job pool opens at most (the lease renewer's connection and the LISTEN
    /// connection come on top).
    public var maxConnections: Int
    /// `TALLY_DB_STATEMENT_TIMEOUT` and the other limits every database session carries.
    public var sessionLimits: SessionLimits

    /// `tally worker` with no `--queues`: every queue, with limits sized for 2 cores and
    /// PostgreSQL beside the worker (payments call Stripe and BitGo: a few at a time is
    /// plenty; notifications are HTTP calls that mostly wait).
    public static let defaultQueues = ["default": 10, "payments": 4, "notify": 10, "maintenance": 2]

    /// `TALLY_BATCH`: `off` runs every job of a batchable kind alone (to compare, or to rule
    /// the batch path out); on by default.
    public var batching: Bool

    /// Reads the settings once; a value that cannot be used throws, naming the setting.
    public init(queues: [String: Int] = WorkerConfig.defaultQueues, label: String = WorkerConfig.defaultLabel(),
                environment: Environment = Environment()) throws {
        self.queues = queues
        self.label = label
        lease = try environment.checkedDuration("TALLY_LEASE", default: 30, minimum: 0.1)
        leaseRenewInterval = try environment.checkedDuration("TALLY_LEASE_RENEW", default: min(10, lease / 3), minimum: 0.01)
        rescueInterval = try environment.checkedDuration("TALLY_RESCUE_INTERVAL", default: min(5, lease / 3), minimum: 0.01)
        sessionLimits = try SessionLimits(environment: environment)
        // Without LISTEN (pooled, no TALLY_LISTEN_DATABASE_URL) the poll is the only wake-up:
        // 250 ms keeps a job's start latency at ~125 ms on average for 4 claims a second
        // per queue while idle.
        let pollOnly = sessionLimits.listenURL(databaseURL: "", environment: environment) == nil
        pollInterval = try environment.checkedDuration("TALLY_POLL_INTERVAL", default: pollOnly ? 0.25 : 2, minimum: 0.01)
        schedulerInterval = try environment.checkedDuration("TALLY_SCHEDULER_INTERVAL", default: 1, minimum: 0.01)
        shutdownGrace = try environment.checkedDuration("TALLY_SHUTDOWN_GRACE", default: 30)
        let scale = environment["TALLY_BACKOFF_SCALE"].map { ($0, Double($0)) }
        if let scale, scale.1 == nil || !(scale.1 ?? -1).isFinite || (scale.1 ?? -1) < 0 {
            throw ConfigurationError(setting: "TALLY_BACKOFF_SCALE", invalid: scale.0, expected: "a number of 0 or more (1: the default backoff)")
        }
        backoff = Backoff(scale: scale?.1 ?? 1)
        // 1,000: batched usage debits on one hot account ran 8,400–9,200/s with claims of 1,000
        // against 6,500–8,200/s with 500 (ops/bench --only ledger); the queue's own drain and
        // latency did not change. A claim never takes more than the queue's free slots.
        maxClaimBatch = try environment.checkedInt("TALLY_CLAIM_BATCH", default: 1000, in: 1...100_000)
        maxCompletionBatch = try environment.checkedInt("TALLY_COMPLETION_BATCH", default: 2000, in: 1...100_000)
        let total = queues.values.reduce(0, +)
        maxConnections = try environment.checkedInt("TALLY_DB_POOL", default: min(max(queues.count + 4, total), 20), in: 1...10_000)
        switch environment["TALLY_BATCH"]?.lowercased() {
        case nil, "on": batching = true
        case "off": batching = false
        case let other?: throw ConfigurationError(setting: "TALLY_BATCH", invalid: other, expected: "on or off")
        }
    }

    public static func defaultLabel() -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return host.isEmpty ? "worker" : host
    }

    /// Parses `--queues default=10,payments=4`.
    public static func parseQueues(_ text: String) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, let n = Int(parts[1]), n > 0, n <= 10_000 else {
                throw QueueError.invalid("--queues takes NAME=N pairs separated by commas (N from 1 to 10000), e.g. default=10,payments=4; got \"\(item)\"")
            }
            guard out[String(parts[0])] == nil else { throw QueueError.invalid("--queues names \(parts[0]) twice") }
            out[String(parts[0])] = n
        }
        guard !out.isEmpty else { throw QueueError.invalid("--queues names no queue") }
        return out
    }
}
