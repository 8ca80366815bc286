import Enqueue
import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import Synchronization
import TestSupport
import XCTest

/// A sink that records what the hub sends, and can pretend its client stopped reading.
final class RecordingSink: StreamSink {
    private static let nextID = Atomic<UInt64>(1)
    let id: UInt64 = RecordingSink.nextID.add(1, ordering: .relaxed).oldValue
    private let state = Mutex<(bytes: [UInt8], closed: Bool, buffered: Int)>(([], false, 0))

    func send(_ bytes: [UInt8]) { state.withLock { if !$0.closed { $0.bytes += bytes } } }
    func close() { state.withLock { $0.closed = true } }
    var isClosed: Bool { state.withLock { $0.closed } }
    var bufferedBytes: Int { state.withLock { $0.buffered } }
    func pretendBuffered(_ n: Int) { state.withLock { $0.buffered = n } }
    var text: String { state.withLock { String(decoding: $0.bytes, as: UTF8.self) } }

    /// The SSE events received.
    var events: [ServerSentEvent] { state.withLock { ServerSentEvent.parse($0.bytes) } }
    var seqs: [Int64] { events.compactMap(\.id) }
}

/// The fan-out against a real PostgreSQL and its LISTEN: events in seq order, resume without a
/// gap or a duplicate, the per-user cap, slow consumers, pings and revoked tokens.
final class StreamHubTests: XCTestCase {
    var db: TestDatabase!
    var hub: StreamHub!
    var listener: Listener!
    var pump: Task<Void, Never>?

    func start(_ settings: StreamHub.Settings = StreamHub.Settings(), withKeys: Bool = false) throws {
        db = try TestDatabase.create()
        let keys = withKeys ? StreamTokenKeys(pool: db.pool(1), refresh: 0.05) : nil
        let hub = StreamHub(pool: db.pool(2), settings: settings, keys: keys)
        self.hub = hub
        listener = Listener(url: db.url, channels: [Channels.events], onConnect: { hub.resync() }) { hub.notified($0.payload) }
        listener.start()
        pump = Task { await hub.run() }
    }

    override func tearDown() {
        hub?.stop()
        listener?.stop()
        pump?.cancel()
    }

    func token(_ user: String, generation: Int64 = 1) -> StreamToken {
        StreamToken(userID: user, expiresAt: Date().addingTimeInterval(3600), generation: generation)
    }

    /// An account with `credits` (one top-up grant: its notification is seq 1).
    func account(_ user: String, credits: Int64? = nil) throws {
        try db.connect().transaction { tx in
            try Ledger.openAccount(user, openedBy: .operator, on: tx)
            if let credits { _ = try Ledger.grant(NewGrant(userID: user, source: .topup, amount: credits, reference: "topup:\(user)"), on: tx) }
        }
    }

    func charge(_ user: String, _ n: Int, from: Int = 0) throws {
        let c = try db.connect()
        for i in from..<(from + n) {
            guard case .applied = try c.transaction({ try Ledger.debit(Debit(userID: user, amount: 1, reference: "usage:\(user):\(i)"), on: $0) }) else {
                throw LedgerError.invalid("charge \(i) refused")
            }
        }
    }

    func testLiveEventsArriveInSeqOrderAndAResumeHasNoGapOrDuplicate() async throws {
        try start()
        let c = try db.connect()
        try account("u1", credits: 1000)
        try account("u2", credits: 1000)
        try await waitUntil("listening") { listener.isConnected }
        let first = RecordingSink()
        let snapshot = try XCTUnwrap(Inbox.snapshot(userID: "u1", on: c))
        try hub.open(first, userID: "u1", after: snapshot.seq, format: .sse, token: token("u1"))
        let other = RecordingSink()
        try hub.open(other, userID: "u2", after: 1, format: .sse, token: token("u2"))
        try charge("u1", 20)
        try charge("u2", 3)
        try await waitUntil("20 events") { first.seqs.count == 20 }
        XCTAssertEqual(first.seqs, Array(2...21), "after the snapshot's seq 1, every charge, in order")
        XCTAssertEqual(first.events.map(\.name), Array(repeating: "balance_update", count: 20))
        XCTAssertEqual(first.events.last?.data["payload"]?["balance"]?.int64, 980)
        XCTAssertTrue(first.events.allSatisfy { $0.data["user_id"] == "u1" }, "never another user's")
        try await waitUntil("u2's 3") { other.seqs == [2, 3, 4] }

        // The client drops after seq 11 and resumes: exactly 12...21, then what happens next.
        hub.closed(first.id)
        let resumed = RecordingSink()
        try hub.open(resumed, userID: "u1", after: 11, format: .sse, token: token("u1"))
        try await waitUntil("the replay") { resumed.seqs.count == 10 }
        try charge("u1", 5, from: 100)
        try await waitUntil("live after the replay") { resumed.seqs.count == 15 }
        XCTAssertEqual(resumed.seqs, Array(12...26), "no gap, no duplicate at the seam")
        XCTAssertEqual(hub.streamCount, 2)
    }

    func testAUserMayHaveTenStreamsAndASlowOneIsClosed() async throws {
        var settings = StreamHub.Settings()
        settings.maxBehind = 30
        try start(settings)
        let c = try db.connect()
        try account("u1", credits: 1000)
        try await waitUntil("listening") { listener.isConnected }
        var sinks: [RecordingSink] = []
        for _ in 0..<10 {
            let s = RecordingSink()
            try hub.open(s, userID: "u1", after: 1, format: .sse, token: token("u1"))
            sinks.append(s)
        }
        XCTAssertThrowsError(try hub.open(RecordingSink(), userID: "u1", after: 1, format: .sse, token: token("u1"))) {
            XCTAssertEqual($0 as? StreamHub.OpenRefusal, .tooManyForUser(10))
        }
        // One client stops reading: it gets nothing more, and once 30 events behind it is closed.
        sinks[0].pretendBuffered(1 << 20)
        try charge("u1", 40)
        try await waitUntil("the others have all 40") { sinks[1...].allSatisfy { $0.seqs.count == 40 } }
        try await waitUntil("the slow one is closed") { sinks[0].isClosed }
        XCTAssertEqual(sinks[0].seqs, [], "nothing was queued for it while it did not read")
        XCTAssertEqual(hub.streamCount, 9)
        try hub.open(RecordingSink(), userID: "u1", after: 1, format: .sse, token: token("u1"))   // room again: it may resume
    }

    func testPingsReachIdleStreamsAndRevokedOrExpiredTokensAreClosed() async throws {
        var settings = StreamHub.Settings()
        settings.pingInterval = 0.2
        try start(settings, withKeys: true)
        let c = try db.connect()
        try account("u1")
        let idle = RecordingSink()
        try hub.open(idle, userID: "u1", after: 0, format: .sse, token: token("u1"))
        let expiring = RecordingSink()
        try hub.open(expiring, userID: "u1", after: 0, format: .sse,
                     token: StreamToken(userID: "u1", expiresAt: Date().addingTimeInterval(0.3), generation: 1))
        try await waitUntil("a ping") { idle.text.contains(": ping\n\n") }
        try await waitUntil("the expired token's stream is closed") { expiring.isClosed }
        XCTAssertFalse(idle.isClosed)
        let run = try TallyRun.run(["stream-tokens", "revoke-all", "--actor", "ops"], environment: ["DATABASE_URL": db.url])
        XCTAssertEqual(run.status, 0, run.stderr)
        try await waitUntil("the revoked token's stream is closed") { idle.isClosed }
        XCTAssertEqual(hub.streamCount, 0)
    }
}
