import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server on 127.0.0.1 standing in for outside services (Stripe, BitGo,
/// CoinGecko, app endpoints) in tests and in `tally-dev-fakes` (ops/run). It listens on an
/// ephemeral port, answers canned responses by method and path, and records every request.
///
/// ```swift
/// let server = try FakeHTTPServer()
/// server.respond("GET", "/v1/checkout/sessions/cs_1/line_items", status: 200, body: fixtureText)
/// server.respond("POST", "/api/v2/btc/wallet/w/address", sequence: [.init(status: 500), .init(status: 200, body: "{}")])
/// ... environment["STRIPE_API_BASE"] = server.baseURL ...
/// XCTAssertEqual(server.requests.first?.headers["idempotency-key"], "...")
/// ```
///
/// One thread and `poll()`; keep-alive; bodies by Content-Length. Each response is written in
/// ONE `send` with TCP_NODELAY: a server that splits headers and body into two writes makes a
/// libcurl client wait for Nagle and delayed ACK (22 requests/s instead of 1,500,
/// SWIFT-ON-LINUX.md).
public final class FakeHTTPServer: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var body: String
        public var headers: [String: String]
        /// Seconds to wait before answering (for timeout tests; the server answers nothing
        /// else meanwhile).
        public var delay: Double
        /// Close the connection instead of answering (a service that drops the call mid-way).
        public var closesConnection: Bool

        public init(status: Int = 200, body: String = "{}", headers: [String: String] = ["Content-Type": "application/json"],
                    delay: Double = 0, closesConnection: Bool = false) {
            self.status = status
            self.body = body
            self.headers = headers
            self.delay = delay
            self.closesConnection = closesConnection
        }
    }

    public struct Request: Sendable {
        public let method: String
        /// The path without the query string.
        public let path: String
        /// The raw query string (percent-encoded), "" if none.
        public let query: String
        /// Header names in lowercase.
        public let headers: [String: String]
        public let body: [UInt8]
        public var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    public let port: UInt16
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private let state: State
    private let listenFD: Int32

    /// What the test and the server thread share (the thread holds this, not the server, so
    /// the server stops when the test lets go of it).
    private final class State: @unchecked Sendable {
        // @unchecked: every field is read and written under `lock`.
        let lock = NSLock()
        var routes: [String: [Response]] = [:]
        var recorded: [Request] = []
        var handler: (@Sendable (Request) -> Response?)?
        var observer: (@Sendable (Request, Response) -> Void)?
        /// Answers for the next requests, whatever their route (`failNext`), before any other.
        var faults: [Response] = []
        var stopped = false

        func locked<T>(_ body: (State) -> T) -> T {
            lock.lock()
            defer { lock.unlock() }
            return body(self)
        }
    }

    public init() throws {
        signal(SIGPIPE, SIG_IGN)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FakeHTTPServerError("socket() failed: errno \(errno)") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw FakeHTTPServerError("bind/listen on 127.0.0.1 failed: errno \(errno)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: actual.sin_port)
        listenFD = fd
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let state = State()
        self.state = state
        let worker = Thread { Self.serve(listenFD: fd, state: state) }
        worker.name = "fake-http-\(port)"
        worker.start()
    }

    deinit { stop() }

    /// Answers `method path` with this response every time.
    public func respond(_ method: String, _ path: String, status: Int = 200, body: String = "{}",
                        headers: [String: String] = ["Content-Type": "application/json"]) {
        respond(method, path, sequence: [Response(status: status, body: body, headers: headers)])
    }

    /// Answers `method path` with these responses in turn; the last one repeats.
    public func respond(_ method: String, _ path: String, sequence: [Response]) {
        precondition(!sequence.isEmpty)
        state.locked { $0.routes[method.uppercased() + " " + path] = sequence }
    }

    /// Decides answers itself (return nil to fall back to the routes, then 404).
    public func handle(_ body: @escaping @Sendable (Request) -> Response?) {
        state.locked { $0.handler = body }
    }

    /// Is told of every request and its answer, on the server's thread (tally-dev-fakes logs them).
    public func observe(_ body: @escaping @Sendable (Request, Response) -> Void) {
        state.locked { $0.observer = body }
    }

    /// The next requests, whatever their method and path, get these answers in turn (a 500,
    /// a hang with `delay`, a dropped connection): how a fault simulation makes the whole
    /// service misbehave for a while. Then the routes answer again.
    public func failNext(_ responses: [Response]) {
        state.locked { $0.faults += responses }
    }

    /// Every request received so far, in order.
    public var requests: [Request] { state.locked { $0.recorded } }

    public func requests(_ method: String, _ path: String) -> [Request] {
        requests.filter { $0.method == method.uppercased() && $0.path == path }
    }

    /// Stops serving (also when the server is released); the port closes within 100 ms.
    public func stop() {
        state.locked { $0.stopped = true }
    }

    // MARK: The server thread

    private struct Client {
        var fd: Int32
        var buffer: [UInt8] = []
    }

    private static func serve(listenFD: Int32, state: State) {
        var clients: [Client] = []
        defer {
            for c in clients { close(c.fd) }
            close(listenFD)
        }
        while !state.locked({ $0.stopped }) {
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)]
            for c in clients { fds.append(pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0)) }
            let n = poll(&fds, nfds_t(fds.count), 100)
            if n <= 0 { continue }
            if fds[0].revents != 0 {
                while true {
                    let fd = accept(listenFD, nil, nil)
                    if fd < 0 { break }
                    var yes: Int32 = 1
                    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
                    clients.append(Client(fd: fd))
                }
            }
            var closed: Set<Int32> = []
            for (i, pfd) in fds.enumerated().dropFirst() where pfd.revents != 0 {
                let index = i - 1
                var chunk = [UInt8](repeating: 0, count: 65536)
                let got = recv(clients[index].fd, &chunk, chunk.count, 0)
                if got <= 0 {
                    closed.insert(clients[index].fd)
                    continue
                }
                clients[index].buffer += chunk[0..<got]
                while let (request, used) = Self.parse(clients[index].buffer) {
                    clients[index].buffer.removeFirst(used)
                    let response = answer(request, state: state)
                    if response.closesConnection {
                        closed.insert(clients[index].fd)
                        break
                    }
                    // A slow server: hold the answer `delay` seconds, or until the client hangs
                    // up (a client that timed out gets nothing, as from a real slow server).
                    if response.delay > 0 && Self.hungUp(clients[index].fd, within: response.delay) { break }
                    Self.write(response, to: clients[index].fd)
                }
            }
            for fd in closed { close(fd) }
            clients.removeAll { closed.contains($0.fd) }
        }
    }

    /// True when the peer closed its side within `seconds` (poll for POLLRDHUP, Linux's
    /// "peer shut down writing"; nothing is read).
    private static func hungUp(_ fd: Int32, within seconds: Double) -> Bool {
        var p = pollfd(fd: fd, events: Int16(0x2000 /* POLLRDHUP */), revents: 0)
        return poll(&p, 1, Int32(seconds * 1000)) > 0
    }

    private static func answer(_ request: Request, state: State) -> Response {
        let response = route(request, state: state)
        state.locked { $0.observer }?(request, response)
        return response
    }

    private static func route(_ request: Request, state: State) -> Response {
        let (handler, fault) = state.locked { s -> ((@Sendable (Request) -> Response?)?, Response?) in
            s.recorded.append(request)
            return (s.handler, s.faults.isEmpty ? nil : s.faults.removeFirst())
        }
        if let fault { return fault }
        if let handler, let r = handler(request) { return r }
        let key = request.method + " " + request.path
        return state.locked { s in
            guard var sequence = s.routes[key] else {
                return Response(status: 404, body: #"{"error":{"message":"no canned response for \#(key)"}}"#)
            }
            let r = sequence[0]
            if sequence.count > 1 {
                sequence.removeFirst()
                s.routes[key] = sequence
            }
            return r
        }
    }

    /// One request if the buffer holds a whole one, and how many bytes it used.
    static func parse(_ buffer: [UInt8]) -> (Request, Int)? {
        let crlf2: [UInt8] = [13, 10, 13, 10]
        guard buffer.count >= 4, let end = (0...(buffer.count - 4)).first(where: { Array(buffer[$0..<$0 + 4]) == crlf2 }) else {
            return nil
        }
        let head = String(decoding: buffer[0..<end], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let total = end + 4 + length
        guard buffer.count >= total else { return nil }
        let target = String(requestLine[1])
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let request = Request(method: String(requestLine[0]).uppercased(), path: String(parts[0]),
                              query: parts.count > 1 ? String(parts[1]) : "", headers: headers,
                              body: Array(buffer[(end + 4)..<total]))
        return (request, total)
    }

    static func write(_ r: Response, to fd: Int32) {
        let body = Array(r.body.utf8)
        var head = "HTTP/1.1 \(r.status) \(r.status < 400 ? "OK" : "Error")\r\n"
        for (k, v) in r.headers { head += "\(k): \(v)\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        let bytes = Array(head.utf8) + body
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}

public struct FakeHTTPServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
