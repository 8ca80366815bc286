import Foundation
import CSystem
import Support
import Synchronization

/// One thread running an `epoll` loop over its listening socket, its connections and a wake-up
/// pipe. Reads, parses, writes and enforces the timeouts; never waits on anything but
/// `epoll_wait()`. (`poll()` cost O(connections) per wake-up: ~4 % of the CPU at 64 busy
/// connections, and it would grow with thousands of idle keep-alive ones.)
///
/// A connection carries one request at a time: while its request is being handled the loop
/// stops reading from it (pipelined bytes wait in its buffer), so answers leave in order.
///
/// An answer with a `StreamHandler` turns its connection into a stream (`ServerStream`): no
/// more requests, no request or idle timeout; what the client sends goes to `received`, what
/// other threads `send` reaches the loop through `streamMail` and leaves coalesced, one
/// `send(2)` per wake-up. A stream costs no thread and no timer of its own: the sweep that
/// visits every connection once a tick passes over it.
///
/// `@unchecked Sendable`: `connections` and everything in them are touched only by the loop's
/// own thread; other threads reach the loop only through `mailbox` and `streamMail` (Mutexes),
/// `stopping` (atomic) and the wake pipe (a file descriptor, written with `write(2)`).
final class EventLoop: @unchecked Sendable {
    let index: Int
    let open: Counter
    /// Open connections per client address, shared by every loop.
    let clients: ClientConnections
    private let listenFD: Int32
    private let config: ServerConfig
    private let handler: HTTPServer.Handler
    private let refused: @Sendable (Int) -> Void
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private var connections: [Int32: Conn] = [:]
    private var nextID: UInt64 = 1
    /// A descriptor held in reserve for when the process runs out (EMFILE): closed to accept the
    /// waiting connection and refuse it with a 503, then taken again. Without it `accept` fails
    /// while the connection stays in the backlog, epoll reports it at once, and the loop spun at
    /// 100 % of a core until descriptors were freed (`ops/bench --only stream` at the file limit).
    private var reserveFD: Int32 = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)
    private let mailbox = Mutex<[Answer]>([])
    /// Streams with bytes sent or a close asked since the loop last looked (each at most once).
    private let streamMail = Mutex<[ServerStream]>([])
    private let stopping = Atomic<Bool>(false)
    private let graceNanos = Atomic<UInt64>(0)
    private let done = DispatchSemaphore(value: 0)
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
    private let epollFD: Int32
    /// Connections whose wanted events may have changed in this iteration.
    private var touched: [Conn] = []

    /// Runs the tasks of this loop's requests on the loop's own thread (a task executor
    /// preference): a request's handler runs here until it waits (on the database), and its
    /// continuation comes back here. Through Swift's global pool instead, each request cost
    /// two more thread switches; they were the largest item of the ingress's CPU profile.
    final class Executor: TaskExecutor {
        unowned let loop: EventLoop
        init(loop: EventLoop) { self.loop = loop }
        func enqueue(_ job: consuming ExecutorJob) { loop.enqueue(UnownedJob(job)) }
    }

    private struct Jobs {
        var queue: [UnownedJob] = []
        /// False once the loop's thread has ended: jobs then go to the global executor.
        var accepting = true
    }

    private let jobs = Mutex(Jobs())
    /// The loop's thread, to skip the wake-up write when the loop enqueues for itself.
    nonisolated(unsafe) private var loopThread = pthread_self()  // written once before the loop runs
    private(set) lazy var executor = Executor(loop: self)

    struct Answer {
        let connID: UInt64
        let fd: Int32
        let bytes: [UInt8]
        let close: Bool
        /// The answer opens a stream once its head is queued.
        let stream: StreamHandler?
    }

    final class Conn {
        let fd: Int32
        let id: UInt64
        var buffer: [UInt8] = []
        var parser: RequestParser
        var out: [UInt8] = []
        var outOffset = 0
        /// A request is with the handler: do not read or parse until it is answered.
        var busy = false
        /// Close once `out` is written.
        var closeAfterWrite = false
        /// When the first byte of the request being received arrived (the 10 s rule).
        var requestStarted: UInt64?
        /// The last read or write, for the idle rule.
        var lastActivity: UInt64
        /// When writing last made progress (a client that stops reading is dropped).
        var writeStalledSince: UInt64?
        /// Set after the last answer of a connection we close: our side is shut, and what the
        /// client still sends is read and dropped until it closes or this time passes. Closing
        /// at once with unread input makes the kernel send a reset, which can destroy the
        /// answer (a 413) before the client reads it.
        var lingerUntil: UInt64?
        /// The events registered with epoll.
        var interest: UInt32 = 0
        /// Where it came from (counted in `clients` while open).
        let peer: PeerAddress?
        /// Set when an answer made this connection a stream.
        var stream: ServerStream?
        /// The stream's callbacks; nil again once `closed` ran (it runs once).
        var streamHandler: StreamHandler?

        init(fd: Int32, id: UInt64, peer: PeerAddress?, limits: RequestParser.Limits, now: UInt64) {
            self.fd = fd
            self.id = id
            self.peer = peer
            self.parser = RequestParser(limits: limits)
            self.lastActivity = now
        }
    }

    init(index: Int, listenFD: Int32, config: ServerConfig, handler: @escaping HTTPServer.Handler,
         refused: @escaping @Sendable (Int) -> Void, open: Counter, clients: ClientConnections) {
        self.index = index
        self.refused = refused
        self.listenFD = listenFD
        self.config = config
        self.handler = handler
        self.open = open
        self.clients = clients
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe() failed: errno \(errno)")
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        epollFD = epoll_create1(0)
        precondition(epollFD >= 0, "epoll_create1() failed: errno \(errno)")
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
        close(epollFD)
    }

    func start() {
        let thread = Thread { [self] in
            run()
            done.signal()
        }
        thread.name = "tally.http.\(index)"
        thread.start()
    }

    func requestStop(grace: TimeInterval) {
        graceNanos.store(UInt64(grace * 1e9), ordering: .relaxed)
        stopping.store(true, ordering: .releasing)
        wake()
    }

    func waitStopped() { done.wait() }

    /// Called from any thread when a handler has answered.
    func post(_ answer: Answer) {
        let wasEmpty = mailbox.withLock { m -> Bool in
            m.append(answer)
            return m.count == 1
        }
        if wasEmpty && !onLoopThread { wake() }
    }

    /// Called from any thread by a stream with something new to write or a close (once until
    /// the loop takes it: `ServerStream.take()`).
    func schedule(_ stream: ServerStream) {
        let wasEmpty = streamMail.withLock { m -> Bool in
            m.append(stream)
            return m.count == 1
        }
        if wasEmpty && !onLoopThread { wake() }
    }

    private var onLoopThread: Bool { pthread_equal(pthread_self(), loopThread) != 0 }

    fileprivate func enqueue(_ job: UnownedJob) {
        let (accepted, wasEmpty) = jobs.withLock { j -> (Bool, Bool) in
            guard j.accepting else { return (false, false) }
            j.queue.append(job)
            return (true, j.queue.count == 1)
        }
        if !accepted {
            globalConcurrentExecutor.enqueue(job)
        } else if wasEmpty && !onLoopThread {
            wake()
        }
    }

    /// Runs the queued task jobs (and those they queue), a bounded number of rounds.
    private func runJobs() -> Bool {
        let unowned = executor.asUnownedTaskExecutor()
        for _ in 0..<8 {
            let batch = jobs.withLock { j -> [UnownedJob] in
                let out = j.queue
                j.queue.removeAll(keepingCapacity: true)
                return out
            }
            if batch.isEmpty { return false }
            for job in batch { job.runSynchronously(on: unowned) }
        }
        return jobs.withLock { !$0.queue.isEmpty }
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    // MARK: The loop

    private func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var listening = true
        var stopDeadline: UInt64?
        var lastSweep: UInt64 = 0
        // Timeouts are checked at least every 250 ms, sooner when a short one is set.
        let tickMillis = Int32(max(10, min(250, Int(min(config.requestTimeout, config.idleTimeout) * 250))))
        register(wakeRead, EPOLLIN.rawValue)
        register(listenFD, EPOLLIN.rawValue)
        loopThread = pthread_self()
        var morePending = false
        while true {
            if stopping.load(ordering: .acquiring) {
                let now = Self.now()
                if listening {
                    listening = false
                    close(listenFD)
                    stopDeadline = now + graceNanos.load(ordering: .relaxed)
                    // Streams and idle connections go now (a stream never ends by itself: the
                    // grace is for answers in flight); the others close after their answer.
                    for c in Array(connections.values) where c.stream != nil { closeStreamForStop(c, now: now) }
                    for c in Array(connections.values) where !c.busy && c.out.count == c.outOffset && c.buffer.isEmpty { closeConn(c) }
                }
                if connections.isEmpty || now >= stopDeadline! { break }
            }
            let n = epoll_wait(epollFD, &events, Int32(events.count), morePending ? 0 : tickMillis)
            if n < 0 && errno != EINTR { Log.error("epoll_wait() failed in the HTTP loop", ["errno": errno]) }
            let now = Self.now()
            for i in 0..<max(0, Int(n)) {
                let fd = events[i].data.fd
                let flags = events[i].events
                if fd == wakeRead {
                    drainWake()
                    continue
                }
                if fd == listenFD {
                    if listening { acceptAll(now: now) }
                    continue
                }
                guard let c = connections[fd] else { continue }
                if flags & EPOLLOUT.rawValue != 0 { flush(c, now: now) }
                guard connections[fd] === c else { continue }
                if flags & EPOLLIN.rawValue != 0 {
                    readAndParse(c, now: now)
                } else if flags & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
                    closeConn(c)
                }
            }
            morePending = runJobs()
            deliverAnswers(now: now)
            deliverStreams(now: now)
            // Answers may have released pipelined requests whose tasks are queued now; the
            // loop's own callbacks may have sent on streams (no wake-up write for those).
            if !morePending { morePending = jobs.withLock { !$0.queue.isEmpty } || streamMail.withLock { !$0.isEmpty } }
            for c in touched where connections[c.fd] === c { updateInterest(c) }
            touched.removeAll(keepingCapacity: true)
            if now - lastSweep >= UInt64(tickMillis) * 1_000_000 {
                lastSweep = now
                sweepTimeouts(now: now)
            }
        }
        for c in Array(connections.values) { closeConn(c) }
        if listening { close(listenFD) }
        if reserveFD >= 0 {
            close(reserveFD)
            reserveFD = -1
        }
        // Every stream is closed: none posts again. Dropping the mail breaks the stream → loop
        // references.
        streamMail.withLock { $0.removeAll() }
        // Tasks still queued (or queued later) run on the global executor from now on.
        let left = jobs.withLock { j -> [UnownedJob] in
            j.accepting = false
            let out = j.queue
            j.queue.removeAll()
            return out
        }
        for job in left { globalConcurrentExecutor.enqueue(job) }
    }

    /// Closes connections past their deadlines: O(connections), once per tick.
    private func sweepTimeouts(now: UInt64) {
        let requestTimeout = UInt64(config.requestTimeout * 1e9)
        let idleTimeout = UInt64(config.idleTimeout * 1e9)
        for c in Array(connections.values) {
            if let until = c.lingerUntil {
                if now > until { closeConn(c) }
            } else if let since = c.writeStalledSince, now - since > requestTimeout, c.stream == nil || c.closeAfterWrite {
                // A live stream's slow reader is bounded by its `maxBufferedBytes` instead (how
                // far behind a consumer may fall is the stream owner's call); a closing one
                // gets what an answer gets.
                closeConn(c)
            } else if c.busy || c.stream != nil {
                continue
            } else if let started = c.requestStarted, now - started > requestTimeout {
                Log.debug("request not received in time, closing", ["timeout_s": config.requestTimeout])
                closeConn(c)
            } else if c.requestStarted == nil && c.outOffset == c.out.count && now - c.lastActivity > idleTimeout {
                closeConn(c)
            }
        }
    }

    /// What the loop wants to hear about a connection: input unless a request is with the
    /// handler (or the connection is closing), output while an answer is unwritten. Errors and
    /// hang-ups are always reported.
    private func wanted(_ c: Conn) -> UInt32 {
        var e: UInt32 = 0
        if (!c.busy && !c.closeAfterWrite) || c.lingerUntil != nil { e |= EPOLLIN.rawValue }
        if c.outOffset < c.out.count { e |= EPOLLOUT.rawValue }
        return e
    }

    private func updateInterest(_ c: Conn) {
        let e = wanted(c)
        guard e != c.interest else { return }
        c.interest = e
        var ev = epoll_event()
        ev.events = e
        ev.data.fd = c.fd
        _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, c.fd, &ev)
    }

    private func register(_ fd: Int32, _ e: UInt32) {
        var ev = epoll_event()
        ev.events = e
        ev.data.fd = fd
        _ = epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &ev)
    }

    private func drainWake() {
        var scratch = [UInt8](repeating: 0, count: 256)
        while read(wakeRead, &scratch, scratch.count) > 0 {}
    }

    private func deliverAnswers(now: UInt64) {
        let answers = mailbox.withLock { m -> [Answer] in
            let out = m
            m.removeAll(keepingCapacity: true)
            return out
        }
        for a in answers {
            guard let c = connections[a.fd], c.id == a.connID else { continue }  // closed meanwhile
            c.busy = false
            if a.close || stopping.load(ordering: .relaxed) { c.closeAfterWrite = true }
            queue(c, a.bytes)
            // Stopping, or the client has closed its side already: written, never opened.
            if let handler = a.stream, !c.closeAfterWrite { openStream(c, handler) }
            flush(c, now: now)
            // Pipelined requests already buffered are parsed now.
            if connections[c.fd] === c, c.stream == nil, !c.busy, !c.closeAfterWrite, !c.buffer.isEmpty {
                c.requestStarted = now
                process(c, now: now)
            }
        }
    }

    // MARK: Streams

    /// The head is queued: the connection is a stream from now on.
    private func openStream(_ c: Conn, _ handler: StreamHandler) {
        let s = ServerStream(loop: self, fd: c.fd, connID: c.id, peer: c.peer, maxBufferedBytes: handler.maxBufferedBytes)
        c.stream = s
        c.streamHandler = handler
        c.requestStarted = nil
        // Bytes the client sent after the request (a WebSocket frame right behind the
        // handshake) belong to the stream; the request buffer's capacity is given back.
        let early = c.buffer
        c.buffer = []
        c.parser = RequestParser(limits: config.limits)
        s.noteUnwritten(c.out.count - c.outOffset)
        handler.opened(s)
        if !early.isEmpty, let received = handler.received, c.streamHandler != nil { received(s, early) }
    }

    /// Writes what streams sent since the last wake-up (all of a stream's sends in one
    /// `send(2)` when the socket takes them) and carries out their closes.
    private func deliverStreams(now: UInt64) {
        let ready = streamMail.withLock { m -> [ServerStream] in
            let out = m
            m.removeAll(keepingCapacity: true)
            return out
        }
        for s in ready {
            let (bytes, request) = s.take()
            guard let c = connections[s.fd], c.id == s.connID, c.stream === s, c.streamHandler != nil else { continue }
            if request == .abort {
                Log.debug("stream closed: the client reads too slowly", ["max_buffered_bytes": s.maxBufferedBytes])
                closeConn(c)
                continue
            }
            if !bytes.isEmpty { queue(c, bytes) }
            if request == .flush {
                c.closeAfterWrite = true
                touched.append(c)
                endStream(c)
            }
            flush(c, now: now)
        }
    }

    /// What the client sends on a stream: to `received`, or dropped (SSE). A bounded number of
    /// reads per wake-up, so one fast sender cannot hold the loop (epoll reports it again).
    private func readStream(_ c: Conn, now: UInt64) {
        for _ in 0..<16 {
            let n = readBuffer.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                c.lastActivity = now
                if let s = c.stream, let received = c.streamHandler?.received { received(s, Array(readBuffer[0..<n])) }
                guard connections[c.fd] === c else { return }
                if n < readBuffer.count { return }
            } else if n == 0 {
                closeConn(c)
                return
            } else if errno == EINTR {
                continue
            } else {
                if errno != EAGAIN && errno != EWOULDBLOCK { closeConn(c) }
                return
            }
        }
    }

    /// Runs `closed` once and makes the stream refuse further sends.
    private func endStream(_ c: Conn) {
        guard let handler = c.streamHandler, let s = c.stream else { return }
        c.streamHandler = nil
        s.markClosed()
        handler.closed(s)
    }

    /// The server stops: what the socket takes now of what is queued is written, then the
    /// stream closes, without waiting for the grace.
    private func closeStreamForStop(_ c: Conn, now: UInt64) {
        if let s = c.stream, c.streamHandler != nil {
            let (bytes, request) = s.take()
            if request != .abort, !bytes.isEmpty {
                queue(c, bytes)
                flush(c, now: now)
            }
        }
        closeConn(c)
    }

    private func acceptAll(now: UInt64) {
        for _ in 0..<256 {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listenFD, $0, &length) }
            }
            if fd < 0 {
                if (errno == EMFILE || errno == ENFILE) && reserveFD >= 0 {
                    close(reserveFD)
                    let waiting = accept(listenFD, nil, nil)
                    if waiting >= 0 { Self.refuse(waiting, "the server has no file descriptors left; retry later") }
                    reserveFD = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)
                    continue
                }
                return  // EAGAIN: no more for now (or a transient error)
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let peer = PeerAddress.from(storage)
            guard open.tryIncrement(limit: config.maxConnections) else {
                Self.refuse(fd, "too many open connections; retry later")
                continue
            }
            if let peer, !clients.tryOpen(peer.text, limit: config.maxConnectionsPerClient) {
                open.decrement()
                Self.refuse(fd, "too many open connections from this address (at most \(config.maxConnectionsPerClient)); retry later")
                continue
            }
            let c = Conn(fd: fd, id: nextID, peer: peer, limits: config.limits, now: now)
            nextID += 1
            connections[fd] = c
            c.interest = EPOLLIN.rawValue
            register(fd, c.interest)
        }
    }

    private func readAndParse(_ c: Conn, now: UInt64) {
        if c.lingerUntil != nil {
            let n = readBuffer.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { closeConn(c) }
            return
        }
        if c.stream != nil {
            readStream(c, now: now)
            return
        }
        var gotEOF = false
        while true {
            let n = readBuffer.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                if c.buffer.isEmpty && c.requestStarted == nil { c.requestStarted = now }
                c.buffer.append(contentsOf: readBuffer[0..<n])
                c.lastActivity = now
                if n < readBuffer.count { break }
                // Never buffer more than one request can legitimately be.
                if c.buffer.count > config.limits.maxHeaderBytes + config.limits.maxBodyBytes + 8192 { break }
            } else if n == 0 {
                gotEOF = true
                break
            } else {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { gotEOF = true }
                break
            }
        }
        process(c, now: now)
        if gotEOF && connections[c.fd] === c {
            // The peer closed, or only its sending side (`nc -N`): a request already with the
            // handler is still answered, then the connection closes.
            if c.busy {
                c.closeAfterWrite = true
                touched.append(c)
            } else {
                closeConn(c)
            }
        }
    }

    /// Parses what is buffered: dispatches one request, or answers a broken one and closes.
    private func process(_ c: Conn, now: UInt64) {
        touched.append(c)
        guard !c.busy, !c.closeAfterWrite, !c.buffer.isEmpty else { return }
        let outcome = c.parser.parse(c.buffer)
        switch outcome {
        case .needMore:
            return
        case .continueExpected:
            queue(c, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            flush(c, now: now)
        case .failure(let f):
            let response = HTTPResponse.json(f.status, ["error": .string(f.code), "message": .string(f.message)])
            c.buffer.removeAll()
            c.closeAfterWrite = true
            c.requestStarted = nil
            queue(c, response.serialized(keepAlive: false))
            refused(f.status)
            flush(c, now: now)
        case .request(var request, let consumed):
            request.peer = c.peer
            c.buffer.removeFirst(consumed)
            c.busy = true
            c.requestStarted = nil
            let answer = Answer.self
            let connID = c.id, fd = c.fd
            let handler = self.handler
            let keepAlive = request.keepAlive
            Task(executorPreference: executor) { [self] in
                let response = await handler(request)
                if let stream = response.stream {
                    post(answer.init(connID: connID, fd: fd, bytes: response.serialized(keepAlive: true), close: false, stream: stream))
                    return
                }
                let keep = keepAlive && !response.close
                post(answer.init(connID: connID, fd: fd, bytes: response.serialized(keepAlive: keep), close: !keep, stream: nil))
            }
        }
    }

    private func queue(_ c: Conn, _ bytes: [UInt8]) {
        touched.append(c)
        if c.outOffset == c.out.count {
            c.out = bytes
            c.outOffset = 0
        } else {
            c.out.append(contentsOf: bytes)
        }
    }

    private func flush(_ c: Conn, now: UInt64) {
        while c.outOffset < c.out.count {
            // Counted before the call: a test that has read the bytes sees the count.
            c.stream?.writeCalls.add(1, ordering: .relaxed)
            let n = c.out.withUnsafeBytes { raw in
                send(c.fd, raw.baseAddress! + c.outOffset, raw.count - c.outOffset, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                c.outOffset += n
                c.lastActivity = now
                c.writeStalledSince = nil
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                if c.writeStalledSince == nil { c.writeStalledSince = now }
                c.stream?.noteUnwritten(c.out.count - c.outOffset)
                return
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                closeConn(c)
                return
            }
        }
        if let s = c.stream {
            // A stream is idle most of its life: it keeps no write buffer between events.
            c.out = []
            s.noteUnwritten(0)
        } else {
            c.out.removeAll(keepingCapacity: true)
        }
        c.outOffset = 0
        c.writeStalledSince = nil
        if c.closeAfterWrite && c.lingerUntil == nil {
            touched.append(c)
            shutdown(c.fd, Int32(SHUT_WR))
            c.lingerUntil = now + 2_000_000_000
        }
    }

    private func closeConn(_ c: Conn) {
        guard connections[c.fd] === c else { return }
        connections[c.fd] = nil
        close(c.fd)
        open.decrement()
        if let peer = c.peer { clients.close(peer.text) }
        endStream(c)
    }

    /// Past a connection cap: a short 503, then close. Never queued, never blocking.
    private static func refuse(_ fd: Int32, _ message: String) {
        let body = JSON.object(["error": "unavailable", "message": .string(message)]).serialized
        let bytes = HTTPResponse(status: 503, headers: [HTTPHeader(name: "Content-Type", value: "application/json"),
                                                        HTTPHeader(name: "Retry-After", value: "1")],
                                 body: Array(body.utf8)).serialized(keepAlive: false)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        close(fd)
    }
}
