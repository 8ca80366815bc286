import Enqueue
import Foundation
import HTTPServer
import Postgres
import Support
import TestSupport
import XCTest

/// `/v1/stream` over real sockets against the ingress (in process, and the `tally ingress`
/// binary as a second process): snapshot then events in seq order, resume without a gap,
/// tokens, CORS, the per-user cap, WebSocket.
final class StreamEndpointTests: XCTestCase {
    typealias Event = ServerSentEvent

    /// Reads events from `client` until `count` of them have arrived (or the deadline).
    static func events(_ client: StreamClient, count: Int, timeout: TimeInterval = 10) -> [Event] {
        client.read(timeout: timeout) { ServerSentEvent.parse($0).count >= count }
        return ServerSentEvent.parse(client.received)
    }

    func token(_ h: IngressHarness, _ user: String) throws -> String {
        let minted = try h.post("/v1/accounts/\(user)/stream-tokens", "{}")
        XCTAssertEqual(minted.status, 201, minted.text)
        return try XCTUnwrap(minted.json?["token"]?.string)
    }

    func grant(_ db: TestDatabase, _ user: String, _ credits: Int) throws {
        let run = try TallyRun.run(["grant", user, String(credits), "--reason", "test", "--actor", "t"], environment: ["DATABASE_URL": db.url])
        XCTAssertEqual(run.status, 0, run.stderr)
    }

    func open(_ port: UInt16, _ query: String, headers: [String: String] = [:]) throws -> (StreamClient, Int, [String: String]) {
        let client = try StreamClient(port: port)
        var request = "GET /v1/stream?\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        for (k, v) in headers { request += "\(k): \(v)\r\n" }
        try client.send(request + "\r\n")
        let head = try client.readHead()
        return (client, head.status, head.headers)
    }

    func testSnapshotThenEventsInSeqOrderAndAResumeReplaysExactlyWhatWasMissed() throws {
        let h = try IngressHarness(environment: ["TALLY_CORS_ORIGINS": "https://app.example.com"])
        let c = try h.db.connect()
        for user in ["u1", "u2"] { try c.execute("INSERT INTO accounts (user_id, opened_by) VALUES ('\(user)', 'operator')") }
        try grant(h.db, "u1", 10)
        let t1 = try token(h, "u1")
        let (client, status, headers) = try open(h.port, "token=\(t1)", headers: ["Origin": "https://app.example.com"])
        XCTAssertEqual(status, 200)
        XCTAssertEqual(headers["content-type"], "text/event-stream; charset=utf-8")
        XCTAssertEqual(headers["access-control-allow-origin"], "https://app.example.com")
        XCTAssertNil(headers["content-length"])
        client.read { String(decoding: $0, as: UTF8.self).hasPrefix("retry: 2000\n\n") }
        let snapshot = Self.events(client, count: 1)
        XCTAssertEqual(snapshot.first, Event(id: 1, name: "snapshot", data: ["user_id": "u1", "balance": 10, "debt": 0, "held": 0, "seq": 1]))

        for credits in 1...5 { try grant(h.db, "u1", credits) }
        try grant(h.db, "u2", 99)   // another user's: never on this stream
        let events = Self.events(client, count: 6)
        XCTAssertEqual(events.dropFirst().map(\.id), [2, 3, 4, 5, 6])
        XCTAssertEqual(events.dropFirst().map(\.name), Array(repeating: "balance_update", count: 5))
        XCTAssertEqual(events.last?.data["payload"]?["balance"]?.int64, 25)
        XCTAssertEqual(events.last?.data["seq"]?.int64, 6)
        XCTAssertTrue(events.dropFirst().allSatisfy { $0.data["user_id"] == "u1" })

        // The client goes away after seq 4 (it had read up to there); three more changes; it
        // resumes with Last-Event-ID as EventSource does, and gets exactly 5...9, then live ones.
        Glibc.shutdown(client.fd, Int32(SHUT_RDWR))
        for credits in 6...8 { try grant(h.db, "u1", credits) }
        let (resumed, status2, _) = try open(h.port, "token=\(t1)", headers: ["Last-Event-ID": "4"])
        XCTAssertEqual(status2, 200)
        let replay = Self.events(resumed, count: 5)
        XCTAssertEqual(replay.map(\.id), [5, 6, 7, 8, 9], "no snapshot on a resume: what was missed, in order")
        try grant(h.db, "u1", 1)
        XCTAssertEqual(Self.events(resumed, count: 6).map(\.id), [5, 6, 7, 8, 9, 10], "then live, no gap or repeat at the seam")

        // A resume from beyond what exists is a reset and a fresh snapshot.
        let (reset, _, _) = try open(h.port, "token=\(t1)&last_event_id=999")
        let resetEvents = Self.events(reset, count: 2)
        XCTAssertEqual(resetEvents.map(\.name), ["reset", "snapshot"])
        XCTAssertEqual(resetEvents.last?.data["seq"]?.int64, 10)
    }

    func testTokensOriginsAndThePerUserCapAreEnforced() throws {
        let h = try IngressHarness(environment: ["TALLY_CORS_ORIGINS": "https://app.example.com", "TALLY_STREAMS_PER_USER": "2"])
        try h.db.connect().execute("INSERT INTO accounts (user_id, opened_by) VALUES ('u1', 'operator')")
        let t1 = try token(h, "u1")
        func status(_ query: String, _ headers: [String: String] = [:]) throws -> Int { try open(h.port, query, headers: headers).1 }
        XCTAssertEqual(try status(""), 401, "no token")
        XCTAssertEqual(try status("token=tst1.x.y.z.w"), 401)
        var tampered = t1
        tampered.removeLast()
        tampered += t1.hasSuffix("0") ? "1" : "0"
        XCTAssertEqual(try status("token=\(tampered)"), 401, "a signature that does not verify")
        XCTAssertEqual(try status("token=\(t1)", ["Origin": "https://evil.example"]), 403)
        XCTAssertEqual(try status("token=\(t1)&last_event_id=-1"), 400)
        XCTAssertEqual(try status("token=\(try token(h, "nobody"))"), 404, "a token for a user without an account")
        let a = try open(h.port, "token=\(t1)")
        let b = try open(h.port, "token=\(t1)", headers: ["Authorization": "Bearer \(t1)"])
        XCTAssertEqual([a.1, b.1], [200, 200])
        XCTAssertEqual(try status("token=\(t1)"), 429, "TALLY_STREAMS_PER_USER=2")
        // A preflight for an allowed origin; the rest of the API has no CORS.
        let preflight = try h.request("OPTIONS", "/v1/stream", headers: ["Origin": "https://app.example.com"], auth: false)
        XCTAssertEqual(preflight.status, 204)
        XCTAssertEqual(preflight.headers["access-control-allow-origin"], "https://app.example.com")
        XCTAssertNil(try h.request("GET", "/v1/accounts/u1", headers: ["Origin": "https://app.example.com"]).headers["access-control-allow-origin"])
        // A closed stream frees its place.
        Glibc.shutdown(a.0.fd, Int32(SHUT_RDWR))
        try waitUntilSync { h.ingress.context.streams.streamCount(of: "u1") == 1 }
        XCTAssertEqual(try status("token=\(t1)"), 200)
    }

    func testASecondIngressProcessServesTheSameStream() throws {
        let h = try IngressHarness()
        try h.db.connect().execute("INSERT INTO accounts (user_id, opened_by) VALUES ('u1', 'operator')")
        let t1 = try token(h, "u1")   // minted by the first ingress, verified by the second
        let env = ["DATABASE_URL": h.db.url, "TALLY_LISTEN": "127.0.0.1:0", "TALLY_LOG_LEVEL": "info"]
        let process = try TallyProcess(["ingress"], environment: env)
        defer { process.signal(SIGKILL) }
        var port: UInt16?
        try waitUntilSync {
            port = process.log.split(separator: "\n").lazy.compactMap { line -> UInt16? in
                guard line.contains("ingress listening"), let r = line.range(of: "address=127.0.0.1:") else { return nil }
                return UInt16(line[r.upperBound...].prefix { $0.isNumber })
            }.first
            return port != nil
        }
        let (client, status, _) = try open(try XCTUnwrap(port), "token=\(t1)")
        XCTAssertEqual(status, 200)
        XCTAssertEqual(Self.events(client, count: 1).first?.name, "snapshot")
        try grant(h.db, "u1", 3)
        XCTAssertEqual(Self.events(client, count: 2).last?.data["payload"]?["balance"]?.int64, 3)
    }

    func testTheSameEventsOverWebSocket() throws {
        let h = try IngressHarness()
        try h.db.connect().execute("INSERT INTO accounts (user_id, opened_by) VALUES ('u1', 'operator')")
        try grant(h.db, "u1", 10)
        let t1 = try token(h, "u1")
        let client = try StreamClient(port: h.port)
        try client.send("GET /v1/stream?token=\(t1) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let head = try client.readHead()
        XCTAssertEqual(head.status, 101)
        XCTAssertEqual(head.headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        var frames = WebSocketClientFrames()
        client.read { frames.texts(in: $0).count >= 1 }
        XCTAssertEqual(frames.texts(in: client.received).first.flatMap { try? JSON.parse(Array($0.utf8)) }?["event"], "snapshot")
        try grant(h.db, "u1", 4)
        client.read { frames.texts(in: $0).count >= 2 }
        let event = try XCTUnwrap(frames.texts(in: client.received).last.flatMap { try? JSON.parse(Array($0.utf8)) })
        XCTAssertEqual(event["event"], "balance_update")
        XCTAssertEqual(event["data"]?["seq"]?.int64, 2)
        XCTAssertEqual(event["data"]?["payload"]?["balance"]?.int64, 14)
        // A ping is answered with a pong carrying its payload.
        try client.send(WebSocketClientFrames.masked(opcode: 0x9, payload: Array("hi".utf8)))
        client.read { frames.frames(in: $0).contains { $0.opcode == 0xA } }
        XCTAssertEqual(frames.frames(in: client.received).first { $0.opcode == 0xA }?.payload, Array("hi".utf8))
        // Resume with ?last_event_id: the missed event, no snapshot.
        let again = try StreamClient(port: h.port)
        try again.send("GET /v1/stream?token=\(t1)&last_event_id=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        XCTAssertEqual(try again.readHead().status, 101)
        again.read { frames.texts(in: $0).count >= 1 }
        XCTAssertEqual(frames.texts(in: again.received).first.flatMap { try? JSON.parse(Array($0.utf8)) }?["data"]?["seq"]?.int64, 2)
    }
}

/// Reads the server's (unmasked) frames from raw bytes, and makes masked client frames.
struct WebSocketClientFrames {
    struct Frame { let opcode: UInt8; let payload: [UInt8] }

    func frames(in bytes: [UInt8]) -> [Frame] {
        var out: [Frame] = []
        var i = 0
        while i + 2 <= bytes.count {
            let opcode = bytes[i] & 0x0F
            var length = Int(bytes[i + 1] & 0x7F)
            var at = i + 2
            if length == 126 {
                guard at + 2 <= bytes.count else { break }
                length = Int(bytes[at]) << 8 | Int(bytes[at + 1])
                at += 2
            } else if length == 127 {
                guard at + 8 <= bytes.count else { break }
                length = bytes[at..<(at + 8)].reduce(0) { $0 << 8 | Int($1) }
                at += 8
            }
            guard at + length <= bytes.count else { break }
            out.append(Frame(opcode: opcode, payload: Array(bytes[at..<(at + length)])))
            i = at + length
        }
        return out
    }

    func texts(in bytes: [UInt8]) -> [String] {
        frames(in: bytes).filter { $0.opcode == 0x1 }.map { String(decoding: $0.payload, as: UTF8.self) }
    }

    static func masked(opcode: UInt8, payload: [UInt8]) -> [UInt8] {
        let mask: [UInt8] = [1, 2, 3, 4]
        return [0x80 | opcode, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }
}
