import Postgres
import Support

/// The `workers` table (who runs, their heartbeat) and `worker_counters`.
extension JobStore {
    /// Registers a worker process at start (or refreshes its heartbeat if it is known already).
    public static func registerWorker(id: String, label: String, host: String, pid: Int, queues: [String: Int],
                                      on connection: Connection) throws {
        try connection.query(JobQueries.registerWorker, [id, label, host, pid, JSON.object(queues.mapValues { JSON.int($0) })])
    }

    public static func heartbeat(workerID: String, on connection: Connection) throws {
        try connection.query(JobQueries.heartbeat, [workerID])
    }

    public static func deregisterWorker(id: String, on connection: Connection) throws {
        try connection.query(JobQueries.deregisterWorker, [id])
    }

    /// Forgets workers that stopped heart-beating an hour ago or more (killed without deregistering).
    public static func forgetDeadWorkers(on connection: Connection) throws {
        try connection.query(JobQueries.forgetDeadWorkers)
    }

    /// Adds what a worker counted since its last heartbeat, in the order given (callers give
    /// (name, label) order: concurrent flushes then lock the rows in one order).
    public static func addCounters(_ counts: [WorkerCounter], on connection: Connection) throws {
        try connection.query(JobQueries.addCounters, [counts.map(\.name), counts.map(\.label), counts.map(\.value)])
    }

    /// Every worker counter's total, by name and label.
    public static func counters(on connection: Connection) throws -> [WorkerCounter] {
        try connection.query(JobQueries.counters).map { row in
            WorkerCounter(name: try row.string("name"), label: try row.string("label"), value: try row.int64("value"))
        }
    }

    /// The workers that heart-beat within `aliveWithin`, with the jobs they run, by label and start.
    public static func workers(aliveWithin: Duration, on connection: Connection) throws -> [WorkerInfo] {
        try connection.query(AdminQueries.workers, [aliveWithin.components.seconds]).map { row in
            let queues = (try row.json("queues").object ?? [:]).compactMapValues(\.int)
            return WorkerInfo(id: try row.string("id"), label: try row.string("label"), host: try row.string("host"),
                              pid: try row.int64("pid"), queues: queues, startedAt: try row.date("started_at"),
                              heartbeatAt: try row.date("heartbeat_at"), running: try row.int64("running"))
        }
    }
}
