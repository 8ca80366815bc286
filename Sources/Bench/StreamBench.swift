import Dispatch
import Foundation
import Glibc
import Jobs
import Postgres
import Support
import Synchronization

/// The `/v1/stream` fan-out of one `tally ingress` (issue 13; docs/stream.md):
/// - `stream_kib_per_conn`: the ingress's resident memory (VmRSS) per idle stream, before and
///   after opening `idleStreams` of them (one per user);
/// - `stream_fanout_p50_ms` / `_p99_ms`: a change's COMMIT returning in this process → the
///   client's socket here delivering its event, at `rate` changes/s over `liveUsers` users with
///   a stream each, the idle streams open besides (one clock, CLOCK_MONOTONIC, one process);
/// - `stream_replay_per_s`: events per second replayed to one client resuming with
///   `last_event_id=0` over `replayEvents` notifications of its user;
/// - `stream_open_max`: streams the ingress holds at once when this process opens more until
///   one fails or its own file limit is reached.
/// Changes are written with `Inbox.write` (the ledger's own statement: the notification, the
/// account's `notification_seq`, `pg_notify` on tally_events), one per transaction.
struct StreamBench {
    let context: BenchContext
    var idleStreams = 10_000
    var liveUsers = 1_000
    var rate = 1_000.0
    var warmupSeconds = 2.0
    var seconds = 15.0
    var writers = 4
    var replayEvents = 100_000

    func run(_ results: inout Results) throws {
        let load0 = Self.loadAverage()
        let fileLimit = Self.raiseFileLimit()
        log("file limit (RLIMIT_NOFILE) raised to \(fileLimit) (the hard limit); load average \(load0)")
        let url = try context.freshDatabase("tally_bench_stream")
        let c = try Connection.connect(url, applicationName: "tally-bench")
        let idle = (0..<idleStreams).map { "idle-\($0)" }
        let live = (0..<liveUsers).map { "live-\($0)" }
        let replayUser = "replay-0"
        try c.transaction { tx in try Ledger.openAccounts(idle + live + [replayUser], openedBy: .operator, on: tx) }
        let key = try context.runTally(["apikey", "create", "bench"], databaseURL: url).split(separator: "\n").last.map(String.init) ?? ""

        let (ingress, port) = try startIngress(databaseURL: url, fileLimit: fileLimit)
        let ingressStarted = monotonicNanos()
        defer { context.stop([ingress]) }
        let pid = ingress.processIdentifier
        let limits = (try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("Max open files") }.map { $0.split(separator: " ", omittingEmptySubsequences: true) } ?? []
        log("ingress pid \(pid) on 127.0.0.1:\(port), its open files limit \(limits.dropFirst(3).prefix(1).joined())")

        var http = try BenchHTTPClient(port: port)
        func token(_ user: String) throws -> String {
            let (status, body) = try http.request("POST", "/v1/accounts/\(user)/stream-tokens", body: #"{"ttl_seconds":86400}"#,
                                                  headers: ["Authorization: Bearer \(key)"])
            guard status == 201, let t = (try? JSON.parse(body))?["token"]?.string else { throw BenchError("stream token for \(user): \(status)") }
            return t
        }
        func openStreams() throws -> Int {
            // The keep-alive connection may have been closed for idleness between phases.
            if let n = try? Self.openStreamsGauge(http) { return n }
            http = try BenchHTTPClient(port: port)
            return try Self.openStreamsGauge(http)
        }
        let started = Date()
        let idleTokens = try idle.map(token)
        let liveTokens = try live.map(token)
        let replayToken = try token(replayUser)
        log(String(format: "%d stream tokens in %.1f s", idleTokens.count + liveTokens.count + 1, Date().timeIntervalSince(started)))

        let clients = StreamClients(port: port)
        defer { clients.shutdown() }

        // Idle streams: resident memory before and after.
        usleep(500_000)
        let rssBefore = try Self.residentKiB(pid)
        let kernelBefore = Self.slabKiB()
        let openedAt = Date()
        let idleFailure = try openAll(clients, count: idleStreams, stopOnFailure: false) { i in
            (i, "/v1/stream?token=\(idleTokens[i])", false)
        }
        if let idleFailure { throw BenchError("idle streams: \(idleFailure)") }
        log(String(format: "%d idle streams open in %.1f s", idleStreams, Date().timeIntervalSince(openedAt)))
        usleep(1_000_000)
        let rssAfter = try Self.residentKiB(pid)
        let kernelAfter = Self.slabKiB()
        log(String(format: "kernel slab (machine-wide, /proc/meminfo) %d → %d KiB: ~%.1f KiB per stream for both ends",
                   kernelBefore, kernelAfter, Double(kernelAfter - kernelBefore) / Double(idleStreams)))
        let held = try openStreams()
        guard held == idleStreams else { throw BenchError("the ingress reports \(held) open streams, expected \(idleStreams)") }
        let perConn = Double(rssAfter - rssBefore) / Double(idleStreams)
        log("ingress VmRSS \(rssBefore) KiB → \(rssAfter) KiB with \(idleStreams) idle streams")
        results.add("stream_kib_per_conn", perConn,
                    "ingress resident memory (VmRSS) per idle SSE stream, \(rssBefore) → \(rssAfter) KiB over \(idleStreams) streams")

        // Fan-out.
        let liveFailure = try openAll(clients, count: liveUsers, stopOnFailure: false) { u in
            (u, "/v1/stream?token=\(liveTokens[u])", true)
        }
        if let liveFailure { throw BenchError("live streams: \(liveFailure)") }
        let fanout = try measureFanout(url: url, users: live, clients: clients, ingressPID: pid, ingressStarted: ingressStarted)
        results.add("stream_fanout_p50_ms", fanout.p50,
                    "COMMIT returned → event read by the client, \(Int(rate)) changes/s over \(liveUsers) users, \(idleStreams) idle streams besides")
        results.add("stream_fanout_p99_ms", fanout.p99, "the same, p99 of \(fanout.samples) events")

        // Replay.
        let replay = try measureReplay(c: c, user: replayUser, token: replayToken, clients: clients, ingressPID: pid)
        results.add("stream_replay_per_s", replay, "events/s replayed to one client resuming with last_event_id=0 over \(replayEvents) notifications")

        // The most streams at once: more idle ones (a second, third… per idle user) until one fails.
        let base = try openStreams()
        let used = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        let budget = max(0, fileLimit - used - 8)
        let maxStarted = Date()
        let maxFailure = try openAll(clients, count: budget, stopOnFailure: true) { i in
            (i % idleStreams, "/v1/stream?token=\(idleTokens[i % idleStreams])", false)
        }
        usleep(1_000_000)
        let ingressFiles = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
        let heldMax = (try? openStreams()) ?? (base + clients.counts.ready - idleStreams - liveUsers - 1)
        let limit = maxFailure.map { "stopped at a failure: \($0)" } ?? "stopped at this process's own file limit (\(fileLimit))"
        log(String(format: "open max: %d streams held (+%d in %.1f s); %@; the ingress has %d files open of %d",
                   heldMax, heldMax - base, Date().timeIntervalSince(maxStarted), limit, ingressFiles, fileLimit))
        results.add("stream_open_max", Double(heldMax),
                    "idle streams one ingress held at once (file limit \(fileLimit) for both processes; \(maxFailure == nil ? "the bench's fds ran out" : "a stream failed"))")
        log("load average at the end \(Self.loadAverage())")
    }

    // MARK: Fan-out

    struct Fanout {
        let p50: Double
        let p99: Double
        let samples: Int
    }

    /// `writers` threads, each its own connection, write change `i` at `start + i / rate`
    /// (user `i % users`, so a user's changes all come from one writer, in order: its k-th change
    /// has `seq` snapshot + k). The clients record every id; afterwards each is matched to the
    /// COMMIT of the change it announces.
    private func measureFanout(url: String, users: [String], clients: StreamClients, ingressPID: Int32, ingressStarted: UInt64) throws -> Fanout {
        let total = Int(rate * (warmupSeconds + seconds))
        let warmup = Int(rate * warmupSeconds)
        let connections = try (0..<writers).map { _ in try Connection.connect(url, applicationName: "tally-bench-writer") }
        let commits = Mutex([UInt64](repeating: 0, count: total))
        let errors = Mutex<[String]>([])
        let done = DispatchSemaphore(value: 0)
        let transactions = Atomic<Int>(0)
        let rate = self.rate, writers = self.writers
        clients.record(true)
        let cpu0 = Self.cpuTicks(ingressPID)
        let start = monotonicNanos() + 100_000_000
        for w in 0..<writers {
            let c = connections[w]
            let thread = Thread {
                var mine: [(Int, UInt64)] = []
                mine.reserveCapacity(total / writers + 1)
                var i = w
                do {
                    while i < total {
                        let due = start + UInt64(Double(i) / rate * 1e9)
                        var now = monotonicNanos()
                        if due > now {
                            var ts = timespec(tv_sec: Int((due - now) / 1_000_000_000), tv_nsec: Int((due - now) % 1_000_000_000))
                            nanosleep(&ts, nil)
                            now = monotonicNanos()
                        }
                        // Every change of this writer already due goes in this transaction (a
                        // worker's batch does the same): notifying commits are serialized by
                        // PostgreSQL, so one per change would cap the rate at 1 / commit time.
                        var slots = [i]
                        while slots.count < 50, case let n = slots.last! + writers, n < total, start + UInt64(Double(n) / rate * 1e9) <= now {
                            slots.append(n)
                        }
                        let items = slots.map {
                            InboxItem(userID: users[$0 % users.count], type: .balanceUpdate,
                                      payload: ["amount": .int(-1), "balance": .int(Int64(1_000_000 - $0)), "reason": "bench"])
                        }
                        try c.transaction { tx in try Inbox.write(items, on: tx) }
                        let committed = monotonicNanos()
                        for n in slots { mine.append((n, committed)) }
                        transactions.add(1, ordering: .relaxed)
                        i = slots.last! + writers
                    }
                } catch {
                    errors.withLock { $0.append("writer \(w): \(error)") }
                }
                commits.withLock { all in for (i, t) in mine { all[i] = t } }
                done.signal()
            }
            thread.start()
        }
        for _ in 0..<writers { done.wait() }
        let wrote = monotonicNanos()
        let cpu1 = Self.cpuTicks(ingressPID)
        if let e = errors.withLock({ $0.first }) { throw BenchError(e) }
        let commitTimes = commits.withLock { $0 }
        let lastCommit = commitTimes.max() ?? wrote
        log(String(format: "fan-out: %d changes in %d transactions in %.2f s (%.0f/s asked %.0f/s), ingress CPU %.0f %% of one core",
                   total, transactions.load(ordering: .relaxed), Double(lastCommit - start) / 1e9,
                   Double(total) / (Double(lastCommit - start) / 1e9), rate,
                   Double(cpu1 - cpu0) / Double(sysconf(Int32(_SC_CLK_TCK))) / (Double(wrote - start) / 1e9) * 100))
        // Wait for the last events (at most 10 s).
        _ = try pollUntil(timeout: 10, every: 0.05) {
            clients.recorded().reduce(0) { $0 + $1.events.count } >= total
        }
        clients.record(false)
        var samples: [Double] = []
        var worst: [(ms: Double, at: Double)] = []
        var received = 0
        for r in clients.recorded() {
            for e in r.events where e.id > r.firstID {
                let k = Int(e.id - r.firstID)
                let i = r.user + (k - 1) * users.count
                guard i < total, commitTimes[i] != 0 else { continue }
                received += 1
                guard i >= warmup else { continue }
                let ms = (Double(e.at) - Double(commitTimes[i])) / 1e6
                samples.append(ms)
                worst.append((ms, (Double(e.at) - Double(start)) / 1e9))
            }
        }
        guard received == total else { throw BenchError("fan-out: \(received) of \(total) events reached their clients") }
        samples.sort()
        log(String(format: "fan-out latency over %d events: min %.2f p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.2f ms",
                   samples.count, samples.first ?? .nan, Stats.percentile(samples, 50), Stats.percentile(samples, 90),
                   Stats.percentile(samples, 99), Stats.percentile(samples, 99.9), samples.last ?? .nan))
        worst.sort { $0.ms > $1.ms }
        // The hub pings every stream every 15 s, counted from its pump's first round (the
        // ingress's start): when the slowest events cluster there, that round is the tail.
        let sinceStart = Double(start - ingressStarted) / 1e9
        let pings = stride(from: 15 - sinceStart.truncatingRemainder(dividingBy: 15), to: warmupSeconds + seconds, by: 15)
        log("fan-out: the hub's ping rounds (all \(idleStreams + liveUsers) streams) due about " + pings.map { String(format: "%.2f s", $0) }.joined(separator: ", ")
            + " after the start")
        log("fan-out: the slowest at (s after the start): " + worst.prefix(8).map { String(format: "%.0f ms @ %.2f s", $0.ms, $0.at) }.joined(separator: ", "))
        return Fanout(p50: Stats.percentile(samples, 50), p99: Stats.percentile(samples, 99), samples: samples.count)
    }

    // MARK: Replay

    /// Writes `replayEvents` notifications for one user (5,000 per statement), lets the ingress
    /// hear of them, then times one client resuming from 0 until the last event arrives.
    private func measureReplay(c: Connection, user: String, token: String, clients: StreamClients, ingressPID: Int32) throws -> Double {
        let wrote = Date()
        for start in stride(from: 0, to: replayEvents, by: 5_000) {
            let items = (start..<min(start + 5_000, replayEvents)).map {
                InboxItem(userID: user, type: .balanceUpdate, payload: ["amount": .int(-1), "balance": .int(Int64(1_000_000 - $0)), "reason": "bench"])
            }
            try c.transaction { tx in try Inbox.write(items, on: tx) }
        }
        try c.execute("ANALYZE notifications")
        log(String(format: "replay: %d notifications written in %.1f s", replayEvents, Date().timeIntervalSince(wrote)))
        // The ingress hears of every one (its user has no stream yet): wait until it is quiet.
        var ticks = Self.cpuTicks(ingressPID)
        for _ in 0..<50 {
            usleep(200_000)
            let now = Self.cpuTicks(ingressPID)
            defer { ticks = now }
            if now - ticks <= 1 { break }
        }
        let t0 = monotonicNanos()
        let fd = try clients.open(user: -1, path: "/v1/stream?token=\(token)&last_event_id=0")
        let target = Int64(replayEvents)
        guard try pollUntil(timeout: 60, every: 0.001, { clients.last(fd).id >= target }) else {
            throw BenchError("replay: the last event did not arrive in 60 s (last id \(clients.last(fd).id); \(clients.failures))")
        }
        let last = clients.last(fd)
        let seconds = Double(last.at - t0) / 1e9
        log(String(format: "replay: %d events in %.3f s after connecting", replayEvents, seconds))
        return Double(replayEvents) / seconds
    }

    // MARK: Helpers

    /// Opens `count` clients, at most 256 not yet answered at once; returns the first failure
    /// (after the others settled) or nil when all are streaming. With `stopOnFailure`, opens no
    /// more after it, and this process's file limit is not a failure but the end.
    private func openAll(_ clients: StreamClients, count: Int, stopOnFailure: Bool,
                         _ spec: (Int) -> (user: Int, path: String, record: Bool)) throws -> String? {
        let failedBefore = clients.counts.failed
        var next = 0
        var stop: String?
        while true {
            let counts = clients.counts
            if counts.failed > failedBefore && stopOnFailure && stop == nil { stop = clients.failures.last ?? "a stream failed" }
            if next >= count || stop != nil {
                if counts.inFlight == 0 { break }
                usleep(1_000)
                continue
            }
            if counts.inFlight >= 256 {
                usleep(200)
                continue
            }
            let s = spec(next)
            do {
                try clients.open(user: s.user, path: s.path, record: s.record)
            } catch {
                if error.fileLimit && stopOnFailure { next = count; continue }
                throw BenchError(error.description)
            }
            next += 1
        }
        let failed = clients.counts.failed - failedBefore
        if failed > 0 && !stopOnFailure { return "\(failed) of \(count) failed: \(clients.failures.prefix(3))" }
        return stop
    }

    /// `tally ingress` under `sh -c 'ulimit -n N; exec …'`, its limits raised for the bench.
    private func startIngress(databaseURL: String, fileLimit: Int) throws -> (Process, UInt16) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tally-bench-stream-ingress.log")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ulimit -n \(fileLimit) && exec \"$0\" ingress", context.tallyBinary.path]
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = databaseURL
        env["TALLY_LISTEN"] = "127.0.0.1:0"
        env["TALLY_LOG_LEVEL"] = "info"
        env["TALLY_MAX_CONNECTIONS"] = "1000000"
        env["TALLY_MAX_CONNECTIONS_PER_CLIENT"] = "1000000"
        env["TALLY_STREAMS_PER_USER"] = "10"
        p.environment = env
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        p.standardError = handle
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        try handle.close()
        var port: UInt16 = 0
        guard try pollUntil(timeout: 30, {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            guard let r = text.range(of: "address=127.0.0.1:") else { return false }
            port = UInt16(text[r.upperBound...].prefix { $0.isNumber }) ?? 0
            return port > 0
        }) else { throw BenchError("tally ingress did not start (\(log.path))") }
        return (p, port)
    }

    /// Soft RLIMIT_NOFILE up to the hard limit (inherited by the processes this one starts).
    static func raiseFileLimit() -> Int {
        var r = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r)
        r.rlim_cur = r.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &r)
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r)
        return Int(r.rlim_cur)
    }

    static func residentKiB(_ pid: Int32) throws -> Int {
        let text = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else {
            throw BenchError("no VmRSS in /proc/\(pid)/status")
        }
        return kib
    }

    /// utime + stime of a process, in clock ticks.
    static func cpuTicks(_ pid: Int32) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14, stime 15.
        guard fields.count > 13 else { return 0 }
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }

    /// The kernel's slab memory (`Slab:` of /proc/meminfo, KiB): sockets live there. Machine-wide.
    static func slabKiB() -> Int {
        let text = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Slab:") }) else { return 0 }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }

    static func loadAverage() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    }

    static func openStreamsGauge(_ http: BenchHTTPClient) throws -> Int {
        let (status, body) = try http.request("GET", "/metrics")
        guard status == 200 else { throw BenchError("/metrics answered \(status)") }
        let text = String(decoding: body, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("tally_ingress_open_streams") }),
              let n = Double(line.split(separator: " ").last ?? "") else { throw BenchError("no tally_ingress_open_streams in /metrics") }
        return Int(n)
    }

    private func log(_ s: String) { FileHandle.standardError.write(Data("bench: stream: \(s)\n".utf8)) }
}
