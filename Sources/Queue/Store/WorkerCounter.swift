/// One of the counters workers add to `worker_counters` with their heartbeat (for `/metrics`):
/// an amount to add, or a total read back.
public struct WorkerCounter: Sendable, Hashable {
    public let name: String
    public let label: String
    public let value: Int64

    public init(name: String, label: String, value: Int64) { (self.name, self.label, self.value) = (name, label, value) }
}
