import Foundation
import Postgres
import Queue
import Support

struct JobsStatsCommand: Command {
    static let name = "jobs stats"
    static let summary = "Jobs by queue and state, the oldest waiting job, completions and failures lately"
    static let usage = ""

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let connection = try context.connect()
        let byQueue = try JobStore.stats(on: connection)
        let active: [JobState] = [.scheduled, .available, .running, .retryable]
        if context.json {
            var queues: [String: JSON] = [:]
            for (q, s) in byQueue {
                var states: [String: JSON] = [:]
                for st in active { states[st.rawValue] = .int(s.states[st] ?? 0) }
                queues[q] = [
                    "states": .object(states),
                    "oldest_available_age_s": s.oldestAge.map { .number(String(format: "%.3f", $0)) } ?? .null,
                    "completed_last_minute": .int(s.completedMinute), "completed_last_hour": .int(s.completedHour),
                    "failed_last_minute": .int(s.failedMinute), "failed_last_hour": .int(s.failedHour),
                ]
            }
            context.print(json: ["queues": .object(queues)])
            return 0
        }
        var table = Table(["queue"] + active.map(\.rawValue) + ["oldest", "done 1m", "done 1h", "failed 1m", "failed 1h"])
        for q in byQueue.keys.sorted() {
            let s = byQueue[q]!
            var cells: [String] = [q]
            for state in active { cells.append(String(s.states[state] ?? 0)) }
            let oldest: String = s.oldestAge.map { DurationText.format($0) } ?? "-"
            cells += [oldest, String(s.completedMinute), String(s.completedHour), String(s.failedMinute), String(s.failedHour)]
            table.add(cells)
        }
        context.print(byQueue.isEmpty ? "No jobs waiting, running or finished in the last hour." : table.render())
        return 0
    }
}
