import Dispatch
import Foundation
import Synchronization

/// Structured logs: one line per event, `key=value`, on stderr.
///
/// Lines are buffered and written by a background flush every 50 ms (or at once past 32 KiB,
/// and for warnings and errors): a worker logs a line per job, and at 25,000 jobs/s one
/// `write(2)` per line cost ~8 % of a core in measurements, while one write per flush costs
/// nothing visible. `Log.flush()` runs at exit.
public enum Log {
    public enum Level: Int, Sendable, Comparable {
        case debug = 0, info, warn, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        var name: String {
            switch self {
            case .debug: "debug"
            case .info: "info"
            case .warn: "warn"
            case .error: "error"
            }
        }
        public init?(name: String) {
            switch name.lowercased() {
            case "debug": self = .debug
            case "info": self = .info
            case "warn", "warning": self = .warn
            case "error": self = .error
            default: return nil
            }
        }
    }

    private struct State {
        var buffer: [UInt8] = []
        var flusherStarted = false
    }

    private static let state = Mutex(State())
    private static let minimumLevel = Atomic<Int>(
        Level(name: ProcessInfo.processInfo.environment["TALLY_LOG_LEVEL"] ?? "info")?.rawValue ?? Level.info.rawValue)
    private static let flushQueue = DispatchQueue(label: "tally.log.flush")

    public static func setLevel(_ level: Level) { minimumLevel.store(level.rawValue, ordering: .relaxed) }

    public static func enabled(_ level: Level) -> Bool { level.rawValue >= minimumLevel.load(ordering: .relaxed) }

    public static func debug(_ message: String, _ fields: KeyValuePairs<String, Any> = [:]) { write(.debug, message, fields) }
    public static func info(_ message: String, _ fields: KeyValuePairs<String, Any> = [:]) { write(.info, message, fields) }
    public static func warn(_ message: String, _ fields: KeyValuePairs<String, Any> = [:]) { write(.warn, message, fields) }
    public static func error(_ message: String, _ fields: KeyValuePairs<String, Any> = [:]) { write(.error, message, fields) }

    public static func write(_ level: Level, _ message: String, _ fields: KeyValuePairs<String, Any>) {
        guard enabled(level) else { return }
        var line = "ts=" + Timestamp.iso8601(Date()) + " level=" + level.name + " msg=" + quote(message)
        for (key, value) in fields {
            line += " " + key + "=" + quote(String(describing: value))
        }
        line += "\n"
        let urgent = level >= .warn
        let flushNow = state.withLock { s -> Bool in
            s.buffer.append(contentsOf: line.utf8)
            if !s.flusherStarted && !urgent {
                s.flusherStarted = true
                startFlusher()
            }
            return urgent || s.buffer.count > 32 * 1024
        }
        if flushNow { flush() }
    }

    /// Writes what is buffered. Called at exit and by the periodic flusher.
    public static func flush() {
        let bytes = state.withLock { s -> [UInt8] in
            let out = s.buffer
            s.buffer.removeAll(keepingCapacity: true)
            return out
        }
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(2, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }

    private static func startFlusher() {
        let timer = DispatchSource.makeTimerSource(queue: flushQueue)
        timer.schedule(deadline: .now() + .milliseconds(50), repeating: .milliseconds(50))
        timer.setEventHandler { @Sendable in Log.flush() }
        timer.resume()
        // The timer lives for the whole process: keep it referenced. Written once, under
        // `state`'s lock (flusherStarted), never read: safe without further locking.
        flushTimer = timer
    }

    nonisolated(unsafe) private static var flushTimer: DispatchSourceTimer?

    /// Values with spaces, quotes or `=` are quoted so each line splits unambiguously.
    static func quote(_ value: String) -> String {
        if value.isEmpty { return "\"\"" }
        var plain = true
        for b in value.utf8 where b <= 0x20 || b == 0x22 || b == 0x3D || b == 0x5C || b >= 0x7F {
            plain = false
            break
        }
        if plain { return value }
        return JSON.quoted(value)
    }
}
