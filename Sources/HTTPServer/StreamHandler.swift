/// Attached to an `HTTPResponse` (`response.stream`): after the loop writes the response head
/// (status and headers only: no `Content-Length` and no `Connection` header are added; for SSE
/// the caller sets `Content-Type: text/event-stream` and the rest, for a `101 Switching
/// Protocols` the caller sets `Upgrade`, `Connection` and `Sec-WebSocket-Accept`, see
/// `WebSocket.handshakeResponse(for:)`) and `body`, the connection stays open as a stream until
/// either side closes it. It reads no other request, and the request and keep-alive idle
/// timeouts do not apply to it.
///
/// Every callback runs on the event loop's thread, so it must be quick and never block (no
/// database call, no lock held for long): it stalls every connection of that loop meanwhile.
/// A response that arrives while the server is stopping is written and closed without
/// opening the stream (neither `opened` nor `closed` runs).
public struct StreamHandler: Sendable {
    /// Called once, on the loop's thread, right after the head is queued. Keep the stream to
    /// send later.
    public var opened: @Sendable (ServerStream) -> Void
    /// Bytes the client sends after the head (WebSocket frames), on the loop's thread, in
    /// order, in the pieces they were read in. nil: they are read and dropped (SSE).
    public var received: (@Sendable (ServerStream, [UInt8]) -> Void)?
    /// Called once when the stream ends for any reason (the peer closed, an error, `close()`,
    /// a slow consumer, the server stopping), on the loop's thread. `send` is a no-op from then.
    public var closed: @Sendable (ServerStream) -> Void
    /// Close the stream when more than this many bytes are queued unwritten (a slow
    /// consumer): what the kernel's socket buffer cannot take waits in the process, and this
    /// bounds it per stream.
    public var maxBufferedBytes: Int

    public init(maxBufferedBytes: Int = 1 << 20,
                opened: @escaping @Sendable (ServerStream) -> Void,
                received: (@Sendable (ServerStream, [UInt8]) -> Void)? = nil,
                closed: @escaping @Sendable (ServerStream) -> Void) {
        self.maxBufferedBytes = maxBufferedBytes
        self.opened = opened
        self.received = received
        self.closed = closed
    }
}
