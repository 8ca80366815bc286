import Foundation

/// A worker process that heart-beats, as `tally workers` lists it.
public struct WorkerInfo: Sendable {
    /// The lease holder: `--id` plus the process's nonce (`worker-1/3f9a2c1b`).
    public let id: String
    public let label: String
    public let host: String
    public let pid: Int64
    /// Its queues and their concurrency in that process.
    public let queues: [String: Int]
    public let startedAt: Date
    public let heartbeatAt: Date
    /// How many jobs it runs now.
    public let running: Int64
}
