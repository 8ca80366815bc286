import Foundation
import Postgres
import Queue
import Support

/// What every benchmark section shares: a fresh database, the `tally` binary beside this one,
/// worker processes, percentiles, the results table.
struct BenchContext: Sendable {
    /// The cluster's admin URL (a database to run CREATE DATABASE from).
    let adminURL: String
    let tallyBinary: URL

    /// A fresh, migrated database for one measurement.
    func freshDatabase(_ name: String) throws -> String {
        let admin = try Connection.connect(adminURL)
        try admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        try admin.execute("CREATE DATABASE \(name)")
        let url = databaseURL(name)
        // The migrations `tally migrate` applies: those built in, or TALLY_SQL_DIR's.
        try Migrator.load().migrate(try Connection.connect(url))
        return url
    }

    func databaseURL(_ name: String) -> String {
        // The admin URL names a database; swap it. Both forms libpq takes are handled.
        if adminURL.hasPrefix("postgres://") || adminURL.hasPrefix("postgresql://") {
            guard let scheme = adminURL.range(of: "://") else { return adminURL }
            let rest = adminURL[scheme.upperBound...]
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            let query = rest[slash...].firstIndex(of: "?").map { String(rest[$0...]) } ?? ""
            return String(adminURL[..<scheme.upperBound]) + rest[..<slash] + "/" + name + query
        }
        return adminURL + " dbname=" + name
    }

    /// Starts `tally worker` processes; their logs go to the temporary folder.
    func startWorkers(_ count: Int, databaseURL: String, queues: String, label: String, extraEnvironment: [String: String] = [:]) throws -> [Process] {
        try (0..<count).map { i in
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("tally-bench-\(label)\(i).log")
            return try startProcess(["worker", "--queues", queues, "--id", "\(label)\(i)"], databaseURL: databaseURL, log: log,
                                    environment: extraEnvironment)
        }
    }

    /// Starts `tally args…` with its stderr in `log`.
    func startProcess(_ args: [String], databaseURL: String, log: URL, environment: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = tallyBinary
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = databaseURL
        for (k, v) in environment { env[k] = v }
        p.environment = env
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        p.standardError = try FileHandle(forWritingTo: log)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Runs `tally args…` to the end and returns its stdout.
    func runTally(_ args: [String], databaseURL: String) throws -> String {
        let p = Process()
        p.executableURL = tallyBinary
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = databaseURL
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw BenchError("tally \(args.joined(separator: " ")) exited \(p.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }

    func stop(_ workers: [Process]) {
        for w in workers where w.isRunning { kill(w.processIdentifier, SIGTERM) }
        for w in workers { w.waitUntilExit() }
    }
}

/// Polls until `condition` holds or `timeout` passes (benchmarks only; tests use waitUntil).
func pollUntil(timeout: TimeInterval, every: TimeInterval = 0.05, _ condition: () throws -> Bool) throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(UInt32(every * 1_000_000))
    }
    return false
}

enum Stats {
    /// The p-th percentile (0–100) by nearest rank.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}

/// Results in order, for the table and the JSON line.
struct Results {
    private(set) var entries: [(key: String, value: Double, note: String)] = []

    mutating func add(_ key: String, _ value: Double, _ note: String) {
        entries.append((key, value, note))
        // Progress as each figure comes in: a long run shows it is alive.
        FileHandle.standardError.write(Data("bench: \(key) = \(Results.format(value))  (\(note))\n".utf8))
    }

    static func format(_ v: Double) -> String {
        v >= 100 ? String(Int(v.rounded())) : String(format: "%.2f", v)
    }

    func table() -> String {
        let w0 = max(entries.map(\.key.count).max() ?? 0, 6)
        let w1 = max(entries.map { Results.format($0.value).count }.max() ?? 0, 5)
        var out = "figure" + String(repeating: " ", count: w0 - 6) + "  " + String(repeating: " ", count: w1 - 5) + "value  what\n"
        for e in entries {
            let v = Results.format(e.value)
            out += e.key + String(repeating: " ", count: w0 - e.key.count) + "  " + String(repeating: " ", count: w1 - v.count) + v + "  " + e.note + "\n"
        }
        return out
    }

    var json: JSON {
        var o: [String: JSON] = [:]
        for e in entries {
            guard e.value.isFinite else {
                o[e.key] = .null
                continue
            }
            o[e.key] = .number(e.value >= 100 ? String(Int64(e.value.rounded())) : String(format: "%.3f", e.value))
        }
        return .object(o)
    }
}
