/// Where a stream's bytes go: an open connection of the HTTP server (`ServerStream`), or a
/// test's recorder. Thread-safe: the hub sends from its own task.
public protocol StreamSink: AnyObject, Sendable {
    /// Unique among the process's open streams.
    var id: UInt64 { get }
    /// Queues bytes to be written in order; nothing once closed.
    func send(_ bytes: [UInt8])
    func close()
    var isClosed: Bool { get }
    /// Bytes queued and not yet written to the socket (a consumer that reads slowly).
    var bufferedBytes: Int { get }
}
