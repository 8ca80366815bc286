import Foundation
import Postgres
import Queue
import Support

struct JobsStatsCommand: Command {
    static let name = "jobs stats"
    static let summary = "Jobs by queue and state, the oldest waiting job, completions and failures lately, dead rows and the oldest snapshot"
    static let usage = ""

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let connection = try context.connect()
        let byQueue = try JobStore.stats(on: connection)
        let vacuum = try JobStore.vacuumHealth(on: connection)
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
            context.print(json: ["queues": .object(queues), "table": [
                "live_rows": .int(vacuum.liveRows), "dead_rows": .int(vacuum.deadRows),
                "oldest_snapshot_age_s": vacuum.oldestSnapshotAge.map { .number(String(format: "%.3f", $0)) } ?? .null,
                "oldest_xmin_age": vacuum.oldestXminAge.map { .int($0) } ?? .null,
            ]])
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
        // What an operator watches when vacuum is held back (README, "When vacuum is held back").
        let held = vacuum.oldestSnapshotAge.map { "the oldest snapshot open for \(DurationText.format($0))" } ?? "no snapshot held open"
        let xmin = vacuum.oldestXminAge.map { ", vacuum held back by \($0) transactions" } ?? ""
        context.print("jobs table: \(vacuum.liveRows) live rows, \(vacuum.deadRows) dead; \(held)\(xmin)")
        return 0
    }
}
