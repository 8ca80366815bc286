import Foundation
import Support
#if canImport(Glibc)
import Glibc
#endif

/// The real Tally processes of a run, started from the built binary: ingresses on fixed
/// loopback ports (so a restarted one comes back where clients look for it) and workers.
/// Their output goes to files in the log directory, one per process start.
@MainActor
final class SystemUnderTest {
    nonisolated static let stripeSecret = "whsec_simulate_0123456789abcdef"
    nonisolated static let bitgoSecret = "bitgo_simulate_secret"

    let options: SimulationOptions
    /// Settings every process gets (database, secrets, fakes, short leases and timeouts).
    let environment: [String: String]
    let ports: [UInt16]
    private(set) var ingresses: [ChildProcess?]
    private(set) var workers: [ChildProcess?]
    private var starts = 0

    init(options: SimulationOptions, fakes: [String: String]) throws {
        self.options = options
        var env = ProcessInfo.processInfo.environment
        for (k, v) in fakes { env[k] = v }
        env["DATABASE_URL"] = options.databaseURL
        env["STRIPE_WEBHOOK_SECRET"] = Self.stripeSecret
        env["BITGO_WEBHOOK_SECRET"] = Self.bitgoSecret
        env["TALLY_LOG_LEVEL"] = env["TALLY_LOG_LEVEL"] ?? "warn"
        // Short leases, so that a stopped worker's jobs are rescued within seconds and the
        // stop lasts longer than the lease; quick retries; HTTP timeouts shorter than a hang.
        env["TALLY_LEASE"] = "2s"
        env["TALLY_LEASE_RENEW"] = "0.5s"
        env["TALLY_RESCUE_INTERVAL"] = "0.5s"
        env["TALLY_POLL_INTERVAL"] = "0.5s"
        env["TALLY_SHUTDOWN_GRACE"] = "2s"
        env["TALLY_BACKOFF_SCALE"] = "0.002"
        env["TALLY_HTTP_TIMEOUT"] = "2s"
        env["TALLY_HTTP_CONNECT_TIMEOUT"] = "1s"
        env["TALLY_ENDPOINTS_ALLOW_PRIVATE"] = "on"
        if options.plantedBug { env["TALLY_SIMULATE_PLANTED_BUG"] = "usage-idempotency" } else { env["TALLY_SIMULATE_PLANTED_BUG"] = nil }
        environment = env
        ports = try (0..<options.ingresses).map { _ in try Self.freePort() }
        ingresses = Array(repeating: nil, count: options.ingresses)
        workers = Array(repeating: nil, count: options.workers)
        try FileManager.default.createDirectory(atPath: options.logDirectory, withIntermediateDirectories: true)
    }

    var baseURLs: [String] { ports.map { "http://127.0.0.1:\($0)" } }

    func startAll() throws {
        for i in ingresses.indices { try startIngress(i) }
        for i in workers.indices { try startWorker(i) }
    }

    func startIngress(_ i: Int) throws {
        ingresses[i] = try launch(["ingress"], name: "ingress\(i)", extra: ["TALLY_LISTEN": "127.0.0.1:\(ports[i])"])
    }

    func startWorker(_ i: Int) throws {
        workers[i] = try launch(["worker", "--id", "sim-w\(i)"], name: "worker\(i)", extra: [:])
    }

    func signalIngress(_ i: Int, _ sig: Int32) { ingresses[i]?.signal(sig) }

    func workerPID(_ i: Int) -> Int32? {
        guard let p = workers[i], p.isRunning else { return nil }
        return p.pid
    }

    func isIngressRunning(_ i: Int) -> Bool { ingresses[i]?.isRunning ?? false }

    /// SIGCONT to everything first (a stopped process ignores SIGTERM until continued), then
    /// SIGTERM, then SIGKILL for what is still there after the grace period.
    func stopAll() {
        let all = (ingresses + workers).compactMap { $0 }.filter(\.isRunning)
        for p in all { kill(p.pid, SIGCONT); kill(p.pid, SIGTERM) }
        for p in all where p.wait(timeout: 10) == nil { kill(p.pid, SIGKILL) }
        for p in all { _ = p.wait(timeout: 5) }
    }

    /// Waits until no job of `queue` (nil: any) is available, running or retryable (cron's
    /// scheduled ones may wait); a description of what is left at the deadline, or nil.
    func waitUntilIdle(queue: String?, timeout: TimeInterval, whileWaiting: () -> Void) async -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            if let stats = try? run(["jobs", "stats", "--json"]), stats.status == 0, let j = try? JSON.parse(stats.stdout) {
                var busy: Int64 = 0
                for (name, q) in j["queues"]?.object ?? [:] where queue == nil || name == queue {
                    for s in ["available", "running", "retryable"] { busy += q["states"]?[s]?.int64 ?? 0 }
                }
                if busy == 0 { return nil }
                last = stats.stdout
            }
            whileWaiting()
            try? await Task.sleep(for: .milliseconds(100))  // poll interval until the deadline
        }
        return "the \(queue.map { "\($0) queue" } ?? "queue") did not drain within \(Int(timeout)) s: \(last.prefix(600))"
    }

    /// Runs `tally args…` to completion: its status, stdout and stderr.
    func run(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try ChildProcess.run(options.tallyBinary, args, environment: environment)
    }

    /// Runs a shell command (the PostgreSQL restart), answering its status.
    func shell(_ command: String) throws -> Int32 {
        let child = try ChildProcess("/bin/sh", ["-c", command], environment: environment, log: logPath("pg-restart"))
        return child.wait(timeout: 120) ?? -1
    }

    private func launch(_ args: [String], name: String, extra: [String: String]) throws -> ChildProcess {
        var env = environment
        for (k, v) in extra { env[k] = v }
        let child = try ChildProcess(options.tallyBinary, args, environment: env, log: logPath(name))
        // ops/simulate ends what is still running of these if the simulator itself dies.
        if let h = FileHandle(forUpdatingAtPath: pidFile) ?? Self.created(pidFile) {
            h.seekToEndOfFile()
            h.write(Data("\(child.pid)\n".utf8))
            try? h.close()
        }
        return child
    }

    private var pidFile: String { options.logDirectory + "/pids" }

    private static func created(_ path: String) -> FileHandle? {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forUpdatingAtPath: path)
    }

    private func logPath(_ name: String) -> String {
        starts += 1
        return options.logDirectory + "/\(String(format: "%04d", starts))-\(name).log"
    }

    /// A loopback port nothing listens on now (bound to port 0, read back, closed): the
    /// ingress then binds it itself, and binds it again after a restart.
    private static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SimulationError("socket() failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw SimulationError("bind to 127.0.0.1:0 failed") }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: actual.sin_port)
    }
}
