import Foundation
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
    /// Connections this process opens at most.
    public var maxConnections: Int

    /// `tally worker` with no `--queues`: every queue, with limits sized for 2 cores and
    /// PostgreSQL beside the worker (payments call Stripe and BitGo: a few at a time is
    /// plenty; notifications are HTTP calls that mostly wait).
    public static let defaultQueues = ["default": 10, "payments": 4, "notify": 10, "maintenance": 2]

    public init(queues: [String: Int] = WorkerConfig.defaultQueues, label: String = WorkerConfig.defaultLabel(),
                environment: Environment = Environment()) {
        self.queues = queues
        self.label = label
        lease = environment.duration("TALLY_LEASE", default: 30)
        leaseRenewInterval = environment.duration("TALLY_LEASE_RENEW", default: min(10, lease / 3))
        rescueInterval = environment.duration("TALLY_RESCUE_INTERVAL", default: min(5, lease / 3))
        pollInterval = environment.duration("TALLY_POLL_INTERVAL", default: 2)
        schedulerInterval = environment.duration("TALLY_SCHEDULER_INTERVAL", default: 1)
        shutdownGrace = environment.duration("TALLY_SHUTDOWN_GRACE", default: 30)
        backoff = Backoff(scale: environment.double("TALLY_BACKOFF_SCALE", default: 1))
        // 1,000: batched usage debits on one hot account ran 8,400–9,200/s with claims of 1,000
        // against 6,500–8,200/s with 500 (ops/bench --only ledger); the queue's own drain and
        // latency did not change. A claim never takes more than the queue's free slots.
        maxClaimBatch = environment.int("TALLY_CLAIM_BATCH", default: 1000)
        maxCompletionBatch = environment.int("TALLY_COMPLETION_BATCH", default: 2000)
        let total = queues.values.reduce(0, +)
        maxConnections = environment.int("TALLY_DB_POOL", default: min(max(queues.count + 4, total), 20))
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
