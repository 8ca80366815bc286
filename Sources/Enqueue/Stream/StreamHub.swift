import Dispatch
import Foundation
import Jobs
import Postgres
import Support
import Synchronization

/// The fan-out of one ingress process (DESIGN.md, "Fan-out"): every open stream of every user,
/// fed from the inbox.
///
/// The inbox is the log. A stream is a position in it (the last `seq` sent), and everything a
/// stream receives is read from `notifications` by `seq` (`Inbox.events`), so a resume, a
/// reconnect of the LISTEN connection or a burst is the same read: no gap and no duplicate at
/// any seam, by construction. The one `LISTEN tally_events` of the process only says which
/// users have news: `notified` marks them, and the pump reads the new rows of every marked user
/// with open streams in one query per wake-up, not one per event or per stream.
///
/// One pump task does all reads and sends, so a stream's events go out in `seq` order. Sends
/// only queue bytes (`StreamSink.send`); the HTTP server's loops write them. A stream whose
/// client does not read (more than `stallBytes` unwritten) gets nothing more until it drains;
/// one that stays so for `maxLag`, or falls more than `maxBehind` events behind, is closed (its
/// client resumes from its last id). Pings go to every stream every `pingInterval`, in slices
/// on the pump's own clock: no timer per stream.
public final class StreamHub: Sendable {
    public struct Settings: Sendable, Equatable {
        /// `TALLY_STREAMS_PER_USER`: open streams one user may have on this process.
        public var perUser = 10
        public var maxBehind: Int64 = 1000
        public var maxLag: TimeInterval = 30
        public var pingInterval: TimeInterval = 15
        /// Unwritten bytes past which a stream is sent nothing more until it drains.
        public var stallBytes = 256 * 1024
        /// Events read per user per wake-up (a long replay continues on the next).
        public var batch = 500

        public init() {}

        public init(_ environment: Environment) throws {
            perUser = try environment.checkedInt("TALLY_STREAMS_PER_USER", default: 10, in: 1...10_000)
        }
    }

    /// Why a stream may not open.
    public enum OpenRefusal: Error, Equatable {
        case tooManyForUser(Int)
    }

    private struct Subscriber {
        let sink: any StreamSink
        let userID: String
        let format: StreamFormat
        let generation: Int64
        let expiresAt: Date
        var sentSeq: Int64
        /// When it last had bytes waiting that it did not read (nil: it keeps up).
        var stalledSince: Double?
    }

    private struct State {
        var subscribers: [UInt64: Subscriber] = [:]
        var byUser: [String: Set<UInt64>] = [:]
        /// Users with news not yet read, with the newest `seq` heard of.
        var dirty: [String: Int64] = [:]
        /// When the last ping slice went out, and which slice is next.
        var lastSlice: Double = 0
        var slice = 0
        var stalled = false
    }

    public let settings: Settings
    private let pool: ConnectionPool
    private let keys: StreamTokenKeys?
    private let state = Mutex(State())
    private let wake = WakeSignal()
    private let stopped = Atomic<Bool>(false)

    /// Pings go out in this many slices over `pingInterval` (a stream in each slice by its id),
    /// not to every stream at once: one round to 11,000 streams kept the event loops in `send()`
    /// for ~130 ms, and the live events queued behind it were the fan-out's p99.9 (100-135 ms,
    /// `ops/bench --only stream`).
    static let pingSlices = 16

    public init(pool: ConnectionPool, settings: Settings = Settings(), keys: StreamTokenKeys? = nil) {
        self.pool = pool
        self.settings = settings
        self.keys = keys
    }

    public var streamCount: Int { state.withLock { $0.subscribers.count } }

    /// Open streams of one user on this process.
    public func streamCount(of userID: String) -> Int { state.withLock { $0.byUser[userID]?.count ?? 0 } }

    /// Starts feeding `sink` the user's notifications after `after`. The caller has sent what
    /// comes first (the preamble, the snapshot or `reset`).
    public func open(_ sink: any StreamSink, userID: String, after: Int64, format: StreamFormat, token: StreamToken) throws(OpenRefusal) {
        let perUser = settings.perUser
        let refused = state.withLock { s -> Bool in
            if s.byUser[userID, default: []].count >= perUser { return true }
            s.subscribers[sink.id] = Subscriber(sink: sink, userID: userID, format: format, generation: token.generation,
                                                expiresAt: token.expiresAt, sentSeq: after)
            s.byUser[userID, default: []].insert(sink.id)
            s.dirty[userID] = max(s.dirty[userID] ?? 0, after)
            return false
        }
        if refused { throw .tooManyForUser(perUser) }
        wake.signal()
    }

    /// The stream ended (the client went away, or the hub closed it).
    public func closed(_ sinkID: UInt64) {
        state.withLock { s in
            guard let sub = s.subscribers.removeValue(forKey: sinkID) else { return }
            s.byUser[sub.userID]?.remove(sinkID)
            if s.byUser[sub.userID]?.isEmpty == true { s.byUser[sub.userID] = nil }
        }
    }

    /// A `tally_events` notification (`{"id", "user_id", "type", "seq"}`): its user has news.
    public func notified(_ payload: String) {
        guard let json = try? JSON.parse(Array(payload.utf8)), let user = json["user_id"]?.string else { return }
        let seq = json["seq"]?.int64 ?? 0
        let woke = state.withLock { s -> Bool in
            guard s.byUser[user] != nil else { return false }
            s.dirty[user] = max(s.dirty[user] ?? 0, seq)
            return true
        }
        if woke { wake.signal() }
    }

    /// After the LISTEN connection was lost and is back: anything may have happened meanwhile,
    /// so every user with a stream is read again.
    public func resync() {
        state.withLock { s in for user in s.byUser.keys where s.dirty[user] == nil { s.dirty[user] = 0 } }
        wake.signal()
    }

    /// Closes every stream and ends `run`.
    public func stop() {
        stopped.store(true, ordering: .releasing)
        let sinks = state.withLock { s -> [any StreamSink] in
            let all = s.subscribers.values.map(\.sink)
            s.subscribers.removeAll()
            s.byUser.removeAll()
            return all
        }
        for sink in sinks { sink.close() }
        wake.signal()
    }

    /// The pump: until `stop`.
    public func run() async {
        while !stopped.load(ordering: .acquiring) {
            let wait = state.withLock { s -> Double in
                let untilSlice = max(0, settings.pingInterval / Double(Self.pingSlices) - (Self.clock() - s.lastSlice))
                return s.stalled ? min(untilSlice, 0.25) : untilSlice
            }
            await wake.wait(seconds: wait)
            if stopped.load(ordering: .acquiring) { break }
            await pumpOnce()
        }
    }

    static func clock() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// One round: pings and expiries when due, then the news of every marked user.
    func pumpOnce() async {
        let now = Self.clock()
        let generation = await currentGeneration()
        var toClose: [any StreamSink] = []
        let work = state.withLock { s -> [String: Int64] in
            if now - s.lastSlice >= settings.pingInterval / Double(Self.pingSlices) {
                s.lastSlice = now
                let slice = UInt64(s.slice)
                s.slice = (s.slice + 1) % Self.pingSlices
                let wall = Date()
                for (id, sub) in s.subscribers where id % UInt64(Self.pingSlices) == slice {
                    if sub.expiresAt <= wall || (generation.map { sub.generation < $0 } ?? false) {
                        toClose.append(sub.sink)
                        Self.remove(id, from: &s)
                    } else {
                        sub.sink.send(sub.format.ping)
                    }
                }
            }
            // The position to read from per user: its slowest stream's.
            var work: [String: Int64] = [:]
            for user in s.dirty.keys {
                guard let ids = s.byUser[user], !ids.isEmpty else { continue }
                work[user] = ids.compactMap { s.subscribers[$0]?.sentSeq }.min() ?? 0
            }
            s.dirty.removeAll()
            return work
        }
        for sink in toClose { sink.close() }
        guard !work.isEmpty else { return }
        let batch = settings.batch
        let events: [String: [Inbox.StreamEvent]]
        do {
            events = try await pool.withConnection { c in try Inbox.events(after: work, limit: batch, on: c) }
        } catch {
            // The database is away: read again on the next wake-up (the reconnect resyncs too).
            state.withLock { s in for (user, seq) in work { s.dirty[user] = max(s.dirty[user] ?? 0, seq) } }
            Log.warn("stream fan-out read failed; retrying", ["users": work.count, "error": error])
            await wake.wait(seconds: 1)
            wake.signal()
            return
        }
        deliver(events, work: work, now: now, &toClose)
        for sink in toClose { sink.close() }
    }

    private func deliver(_ events: [String: [Inbox.StreamEvent]], work: [String: Int64], now: Double, _ toClose: inout [any StreamSink]) {
        let settings = self.settings
        var closing: [any StreamSink] = []
        state.withLock { s in
            var stalledAny = false
            for (user, _) in work {
                let rows = events[user] ?? []
                guard let ids = s.byUser[user] else { continue }
                // Bytes of each event, made once per format kind.
                var sse: [Int64: [UInt8]] = [:]
                for id in ids {
                    guard var sub = s.subscribers[id] else { continue }
                    var behind = false
                    for event in rows where event.seq > sub.sentSeq {
                        if sub.sink.bufferedBytes > settings.stallBytes {
                            behind = true
                            break
                        }
                        let bytes: [UInt8]
                        if case .sse = sub.format {
                            if let cached = sse[event.seq] { bytes = cached } else {
                                bytes = sub.format.event(event.type, id: event.seq, data: event.json)
                                sse[event.seq] = bytes
                            }
                        } else {
                            bytes = sub.format.event(event.type, id: event.seq, data: event.json)
                        }
                        sub.sink.send(bytes)
                        sub.sentSeq = event.seq
                    }
                    if behind {
                        let since = sub.stalledSince ?? now
                        sub.stalledSince = since
                        let newest = rows.last?.seq ?? sub.sentSeq
                        if now - since > settings.maxLag || newest - sub.sentSeq > settings.maxBehind {
                            closing.append(sub.sink)
                            Self.remove(id, from: &s)
                            continue
                        }
                        stalledAny = true
                        s.dirty[user] = max(s.dirty[user] ?? 0, newest)
                    } else {
                        sub.stalledSince = nil
                    }
                    s.subscribers[id] = sub
                }
                // A full batch: there may be more (a long replay); read on at once.
                if rows.count >= settings.batch { s.dirty[user] = max(s.dirty[user] ?? 0, rows.last?.seq ?? 0) }
            }
            s.stalled = stalledAny
        }
        toClose += closing
        if state.withLock({ !$0.dirty.isEmpty && !$0.stalled }) { wake.signal() }
    }

    private static func remove(_ id: UInt64, from s: inout State) {
        guard let sub = s.subscribers.removeValue(forKey: id) else { return }
        s.byUser[sub.userID]?.remove(id)
        if s.byUser[sub.userID]?.isEmpty == true { s.byUser[sub.userID] = nil }
    }

    /// The current token generation, when keys are known (streams of an older one are closed).
    private func currentGeneration() async -> Int64? {
        guard let keys else { return nil }
        return try? await keys.current().generation
    }
}
