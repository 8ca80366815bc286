import Foundation
@testable import HTTPServer
import TestSupport
import XCTest

/// Streaming responses through a real server on 127.0.0.1: Server-Sent Events here, a
/// WebSocket in WebSocketEchoTests.
final class ServerStreamTests: XCTestCase {
    /// What the callbacks saw, for the test to wait on.
    final class Events: Sendable {
        let opened = LockedBox<[ServerStream]>([])
        let closed = LockedBox<[UInt64]>([])
        var lastOpened: ServerStream? { opened.value.last }
    }

    static func config(_ change: (inout ServerConfig) -> Void = { _ in }) -> ServerConfig {
        var c = ServerConfig()
        c.port = 0
        c.threads = 2
        change(&c)
        return c
    }

    /// A server answering every request with an event stream.
    static func sseServer(_ config: ServerConfig, events: Events, maxBufferedBytes: Int = 1 << 20) throws -> HTTPServer {
        let server = try HTTPServer(config: config) { _ in
            HTTPResponse(status: 200,
                         headers: [HTTPHeader(name: "Content-Type", value: "text/event-stream"),
                                   HTTPHeader(name: "Cache-Control", value: "no-cache")],
                         body: Array("retry: 2000\n\n".utf8),
                         stream: StreamHandler(maxBufferedBytes: maxBufferedBytes,
                                               opened: { s in events.opened.mutate { $0.append(s) } },
                                               closed: { s in events.closed.mutate { $0.append(s.id) } }))
        }
        server.start()
        return server
    }

    /// Opens a stream: the head and the first event are read.
    static func openStream(_ port: UInt16, receiveBuffer: Int32? = nil) throws -> StreamClient {
        let client = try StreamClient(port: port, receiveBuffer: receiveBuffer)
        try client.send("GET /v1/stream HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n")
        return client
    }

    func testEventsArriveInOrderTheStreamOutlivesTheTimeoutsAndCloseEndsIt() throws {
        let events = Events()
        let server = try Self.sseServer(Self.config { $0.requestTimeout = 0.4; $0.idleTimeout = 0.4 }, events: events)
        defer { server.stop(grace: 1) }
        let client = try Self.openStream(server.port)
        let head = try client.readHead()
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.headers["content-type"], "text/event-stream")
        XCTAssertNil(head.headers["content-length"], "an event stream has no length")
        XCTAssertNil(head.headers["connection"])
        XCTAssertTrue(client.read { $0.count >= 13 })
        XCTAssertEqual(String(decoding: client.received, as: UTF8.self), "retry: 2000\n\n")
        client.received = []
        try waitUntilSync { events.opened.value.count == 1 }
        guard let stream = events.lastOpened else { return XCTFail("not opened") }
        XCTAssertEqual(stream.peer?.text, "127.0.0.1")
        XCTAssertEqual(server.connectionCount, 1, "a stream is an open connection")

        // 100 sends from another thread arrive whole and in order.
        let expected = (0..<100).map { "id: \($0)\ndata: {\"n\": \($0)}\n\n" }.joined()
        let sender = Thread { for i in 0..<100 { stream.send(Array("id: \(i)\ndata: {\"n\": \(i)}\n\n".utf8)) } }
        sender.start()
        XCTAssertTrue(client.read { $0.count >= expected.utf8.count })
        XCTAssertEqual(String(decoding: client.received, as: UTF8.self), expected)
        client.received = []
        try waitUntilSync { stream.bufferedBytes == 0 }

        // Ordinary connections opened after the stream went quiet are closed by the request
        // and the idle timeouts; the stream, quiet longer, stays.
        let halfRequest = try StreamClient(port: server.port)
        try halfRequest.send("GET / HTTP/1.1\r\nHost: t\r\n")
        let idle = try StreamClient(port: server.port)
        XCTAssertTrue(halfRequest.waitForEOF(), "the request timeout applies to ordinary connections")
        XCTAssertTrue(idle.waitForEOF(), "the idle timeout applies to ordinary connections")
        XCTAssertFalse(stream.isClosed)
        stream.send(Array(": ping\n\n".utf8))
        XCTAssertTrue(client.read { $0.count >= 8 })
        XCTAssertEqual(String(decoding: client.received, as: UTF8.self), ": ping\n\n")
        XCTAssertTrue(events.closed.value.isEmpty)

        // close() from the server: what was queued is written, then the client's read ends.
        stream.send(Array("data: last\n\n".utf8))
        stream.close()
        XCTAssertTrue(stream.isClosed)
        stream.send(Array("data: too late\n\n".utf8))
        XCTAssertTrue(client.waitForEOF())
        XCTAssertTrue(String(decoding: client.received, as: UTF8.self).hasSuffix("data: last\n\n"))
        XCTAssertFalse(String(decoding: client.received, as: UTF8.self).contains("too late"))
        try waitUntilSync { events.closed.value == [stream.id] }
        try waitUntilSync { server.connectionCount == 0 }
    }

    func testClientDisconnectRunsClosedPromptly() throws {
        let events = Events()
        let server = try Self.sseServer(Self.config(), events: events)
        defer { server.stop(grace: 1) }
        var client: StreamClient? = try Self.openStream(server.port)
        _ = try client?.readHead()
        try waitUntilSync { events.opened.value.count == 1 }
        guard let stream = events.lastOpened else { return XCTFail("not opened") }
        let start = Date()
        client = nil  // closes the socket
        try waitUntilSync(timeout: 5) { events.closed.value == [stream.id] }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1, "closed runs when the peer's FIN is read, not on a timer")
        XCTAssertTrue(stream.isClosed)
        stream.send([1, 2, 3])
        XCTAssertEqual(stream.bufferedBytes, 0, "a send after the end is a no-op")
        try waitUntilSync { server.connectionCount == 0 }
    }

    func testStopClosesStreamsWithoutWaitingForTheGrace() throws {
        let events = Events()
        let server = try Self.sseServer(Self.config(), events: events)
        let clients = try (0..<3).map { _ in try Self.openStream(server.port) }
        for c in clients { _ = try c.readHead() }
        try waitUntilSync { events.opened.value.count == 3 }
        let start = Date()
        server.stop(grace: 30)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "stop does not wait the 30 s grace for streams")
        XCTAssertEqual(Set(events.closed.value), Set(events.opened.value.map(\.id)))
        XCTAssertTrue(events.opened.value.allSatisfy(\.isClosed))
        for c in clients { XCTAssertTrue(c.waitForEOF()) }
    }

    func testStreamsCountAgainstThePerClientCap() throws {
        let events = Events()
        let server = try Self.sseServer(Self.config { $0.maxConnectionsPerClient = 2 }, events: events)
        defer { server.stop(grace: 1) }
        let streams = try (0..<2).map { _ in try Self.openStream(server.port) }
        for c in streams { _ = try c.readHead() }
        try waitUntilSync { events.opened.value.count == 2 }
        let third = try Self.openStream(server.port)
        XCTAssertEqual(try third.readHead().status, 503)
        XCTAssertEqual(server.connectionCount, 2)
    }

    func testManySmallSendsAreCoalesced() throws {
        // Sends made between two wake-ups leave together: 1,000 sends of 10 bytes from the
        // loop's own thread (inside `opened`) are one write after the head's.
        let events = Events()
        let server = try HTTPServer(config: Self.config()) { _ in
            HTTPResponse(status: 200, headers: [HTTPHeader(name: "Content-Type", value: "text/event-stream")],
                         stream: StreamHandler(opened: { s in
                                                   events.opened.mutate { $0.append(s) }
                                                   for i in 0..<1000 { s.send(Array(String(format: "data: %03d\n", i).utf8)) }
                                               },
                                               closed: { _ in }))
        }
        server.start()
        defer { server.stop(grace: 1) }
        let client = try Self.openStream(server.port)
        _ = try client.readHead()
        XCTAssertTrue(client.read { $0.count >= 10_000 })
        XCTAssertEqual(client.received.count, 10_000)
        XCTAssertEqual(String(decoding: client.received.prefix(20), as: UTF8.self), "data: 000\ndata: 001\n")
        guard let stream = events.lastOpened else { return XCTFail("not opened") }
        XCTAssertEqual(stream.writeCalls.load(ordering: .relaxed), 2, "the head, then all 1,000 sends in one write")

        // From another thread, racing the loop: still far fewer writes than sends.
        client.received = []
        let sender = Thread { for i in 0..<1000 { stream.send(Array(String(format: "data: %03d\n", i).utf8)) } }
        sender.start()
        XCTAssertTrue(client.read { $0.count >= 10_000 })
        let writes = stream.writeCalls.load(ordering: .relaxed) - 2
        print("coalescing: 1,000 sends from another thread left in \(writes) writes")
        XCTAssertLessThan(writes, 1000)
    }

    func testASlowConsumerIsClosed() throws {
        let events = Events()
        let limit = 256 * 1024
        let server = try Self.sseServer(Self.config(), events: events, maxBufferedBytes: limit)
        defer { server.stop(grace: 1) }
        // A small receive window, and the client never reads after the head.
        let client = try Self.openStream(server.port, receiveBuffer: 4096)
        _ = try client.readHead()
        try waitUntilSync { events.opened.value.count == 1 }
        guard let stream = events.lastOpened else { return XCTFail("not opened") }
        let chunk = [UInt8](repeating: 0x61, count: 16 * 1024)
        let sent = LockedBox(0)
        let peak = LockedBox(0)
        let sender = Thread {
            for _ in 0..<256 where !stream.isClosed {  // 4 MiB at most
                stream.send(chunk)
                sent.mutate { $0 += chunk.count }
                let b = stream.bufferedBytes
                peak.mutate { $0 = max($0, b) }
            }
        }
        sender.start()
        try waitUntilSync(timeout: 20) { events.closed.value == [stream.id] }
        XCTAssertTrue(stream.isClosed)
        XCTAssertLessThanOrEqual(peak.value, limit, "never more than maxBufferedBytes is held")
        print("slow consumer: closed after \(sent.value / 1024) KiB sent; peak buffered \(peak.value / 1024) KiB (limit \(limit / 1024) KiB)")
        try waitUntilSync { server.connectionCount == 0 }
    }

    /// 2,000 idle streams over loopback: resident memory per stream, and no thread per stream.
    func testIdleStreamsAreCheap() throws {
        let events = Events()
        let count = 2000
        let server = try Self.sseServer(Self.config { $0.maxConnections = 3 * count; $0.maxConnectionsPerClient = 3 * count }, events: events)
        defer { server.stop(grace: 1) }
        // Warm up: the loops' tables and buffers, the allocator's arenas.
        var warm = try (0..<100).map { _ in try Self.openStream(server.port) }
        try waitUntilSync { events.opened.value.count == 100 }
        warm = []
        try waitUntilSync { events.closed.value.count == 100 }
        let rssBefore = Self.residentKiB(), threadsBefore = Self.threadCount(), slabBefore = Self.kernelSlabKiB()

        var fds: [Int32] = []
        fds.reserveCapacity(count)
        defer { for fd in fds { close(fd) } }
        let request = Array("GET /v1/stream HTTP/1.1\r\nHost: test\r\n\r\n".utf8)
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = server.port.bigEndian
            inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
            let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            XCTAssertEqual(ok, 0, "connect: errno \(errno)")
            fds.append(fd)
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        try waitUntilSync(timeout: 60) { events.opened.value.count == 100 + count }
        XCTAssertEqual(server.connectionCount, count)
        let rssAfter = Self.residentKiB(), threadsAfter = Self.threadCount(), slabAfter = Self.kernelSlabKiB()
        let perStream = Double(rssAfter - rssBefore) / Double(count)
        // The kernel's side (both ends' sockets, machine-wide, so only indicative) is not in
        // the process's resident memory.
        print("idle streams: \(count) streams, resident \(rssBefore) KiB -> \(rssAfter) KiB: \(String(format: "%.2f", perStream)) KiB per stream; threads \(threadsBefore) -> \(threadsAfter); kernel slab +\(String(format: "%.1f", Double(slabAfter - slabBefore) / Double(count))) KiB per stream (both ends)")
        XCTAssertLessThan(perStream, 16, "an idle stream should cost a few KiB at most")
        XCTAssertLessThanOrEqual(threadsAfter, threadsBefore + 4, "no thread per stream")

        for fd in fds { close(fd) }
        fds = []
        try waitUntilSync(timeout: 30) { events.closed.value.count == 100 + count }
    }

    static func residentKiB() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
    }

    static func kernelSlabKiB() -> Int {
        guard let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return 0 }
        for line in meminfo.split(separator: "\n") where line.hasPrefix("Slab:") {
            return Int(line.dropFirst(5).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") ?? 0
        }
        return 0
    }

    static func threadCount() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("Threads:") {
            return Int(line.dropFirst(8).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return 0
    }
}
