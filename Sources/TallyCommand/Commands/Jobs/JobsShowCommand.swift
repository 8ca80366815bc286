import Foundation
import Postgres
import Queue
import Support

struct JobsShowCommand: Command {
    static let name = "jobs show"
    static let summary = "Show one job: args, state, every attempt's error, timings, worker, result"
    static let usage = "ID"

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let id = try Show.parseIDs(try args.expect(["ID"], command: name))[0]
        let connection = try context.connect()
        guard let job = try JobStore.job(id: id, on: connection) else {
            throw CommandError.failure("no job \(id)")
        }
        if context.json {
            context.print(json: job.json)
            return 0
        }
        var lines: [(String, String)] = [
            ("id", String(job.id)), ("kind", job.kind), ("queue", job.queue), ("state", job.state.rawValue),
            ("attempt", "\(job.attempt) of \(job.maxAttempts)"), ("priority", String(job.priority)),
            ("run_at", Show.time(job.runAt)), ("created_at", Show.time(job.createdAt)),
            ("attempted_at", Show.time(job.attemptedAt)), ("finished_at", Show.time(job.finishedAt)),
            ("worker", job.lockedBy ?? "-"),
        ]
        if job.state == .running { lines.append(("lease_until", Show.time(job.leaseExpiresAt))) }
        if let key = job.uniqueKey { lines.append(("key", key)) }
        if let start = job.attemptedAt, let end = job.finishedAt {
            lines.append(("ran_for", DurationText.format(end.timeIntervalSince(start))))
        }
        lines.append(("args", job.args.serialized))
        lines.append(("result", job.result?.serialized ?? "-"))
        let width = lines.map(\.0.count).max() ?? 0
        var text = lines.map { $0.0 + String(repeating: " ", count: width - $0.0.count) + "  " + $0.1 }.joined(separator: "\n")
        if !job.errors.isEmpty {
            text += "\nerrors:"
            for e in job.errors { text += "\n  attempt \(e.attempt) at \(e.at): \(e.message)" }
        }
        context.print(text)
        return 0
    }
}
