import Foundation
import Postgres
import Queue
import Support

/// Formats times in tables: ISO-8601 without fractions, and ages like "3m".
enum Show {
    static func time(_ date: Date?) -> String {
        guard let date else { return "-" }
        return String(Timestamp.iso8601(date).prefix(19)) + "Z"
    }

    static func age(_ date: Date?, now: Date = Date()) -> String {
        guard let date else { return "-" }
        let s = now.timeIntervalSince(date)
        return s < 0 ? "in " + DurationText.format(-s) : DurationText.format(s) + " ago"
    }

    static func parseIDs(_ words: [String]) throws -> [Int64] {
        try words.map { w in
            guard let id = Int64(w), id > 0 else { throw CommandError.usage("job ids are positive integers, got \"\(w)\"") }
            return id
        }
    }
}

/// The answer of a command acting on several jobs: which it changed, which not and why.
enum BulkAnswer {
    /// Why each id not in `done` was left alone: its state (via `reason`), or that it does not exist.
    static func failures(_ ids: [Int64], done: Set<Int64>, on connection: Connection,
                         reason: (String) -> String) throws -> [(id: Int64, reason: String)] {
        let missing = ids.filter { !done.contains($0) }
        guard !missing.isEmpty else { return [] }
        var states: [Int64: String] = [:]
        for row in try connection.query(AdminQueries.states, [missing]) { states[try row.int64("id")] = try row.string("state") }
        return missing.map { id in (id, states[id].map(reason) ?? "does not exist") }
    }

    static func json(done key: String, ids: [Int64], succeeded: Set<Int64>, failed: [(id: Int64, reason: String)]) -> JSON {
        [key: .array(ids.filter(succeeded.contains).map { .int($0) }),
         "failed": .array(failed.map { ["id": .int($0.id), "reason": .string($0.reason)] })]
    }

    static func printFailures(_ failed: [(id: Int64, reason: String)], command: String) {
        for f in failed { Output.error("tally \(command): job \(f.id) \(f.reason)") }
    }
}

struct JobsListCommand: Command {
    static let name = "jobs list"
    static let summary = "List jobs, newest first"
    static let usage = "[--state S] [--kind K] [--queue Q] [--since TIME] [--limit N] [--before ID]"
    static let options: Set<String> = ["state", "kind", "queue", "since", "limit", "before"]
    static let details = """
        Options:
          --state S    one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))
          --kind K     only this kind
          --queue Q    only this queue
          --since TIME created at or after TIME (ISO-8601, or -1h / -30m for "ago")
          --limit N    at most N jobs (default 20, at most 1000)
          --before ID  the next page: jobs with ids below ID (the JSON gives next_before)
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let state = try args.option("state").map { s -> String in
            guard JobState(rawValue: s) != nil else {
                throw CommandError.usage("--state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(s)\"")
            }
            return s
        }
        var since: Date?
        if let text = args.option("since") {
            if text.hasPrefix("-"), let d = DurationText.parse(String(text.dropFirst())) {
                since = Date().addingTimeInterval(-d)
            } else if let d = Timestamp.parse(text) {
                since = d
            } else {
                throw CommandError.usage("--since takes ISO-8601 or -30m / -1h / -2d, got \"\(text)\"")
            }
        }
        let limit = try args.int("limit", range: 1...1000) ?? 20
        let before = try args.option("before").map { text -> Int64 in
            guard let n = Int64(text), n > 0 else { throw CommandError.usage("--before takes a job id, got \"\(text)\"") }
            return n
        }
        let connection = try context.connect()
        let rows = try connection.query(AdminQueries.list, [state, args.option("kind"), args.option("queue"), since, limit, before])
        let jobs = try rows.map(JobRecord.init(row:))
        let next: Int64? = jobs.count == limit ? jobs.last?.id : nil
        if context.json {
            context.print(json: ["jobs": .array(jobs.map(\.json)), "next_before": .optional(next)])
            return 0
        }
        var table = Table(["id", "kind", "queue", "state", "attempt", "pri", "run_at", "created"])
        for j in jobs {
            table.add([String(j.id), j.kind, j.queue, j.state.rawValue, "\(j.attempt)/\(j.maxAttempts)", String(j.priority),
                       Show.time(j.runAt), Show.age(j.createdAt)])
        }
        context.print(jobs.isEmpty ? "No jobs match." : table.render())
        if let next { context.print("More: tally jobs list --before \(next)") }
        return 0
    }
}

struct JobsShowCommand: Command {
    static let name = "jobs show"
    static let summary = "Show one job: args, state, every attempt's error, timings, worker, result"
    static let usage = "ID"

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let id = try Show.parseIDs(try args.expect(["ID"], command: name))[0]
        let connection = try context.connect()
        guard let row = try connection.query(AdminQueries.show, [id]).first else {
            throw CommandError.failure("no job \(id)")
        }
        let job = try JobRecord(row: row)
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

struct JobsRetryCommand: Command {
    static let name = "jobs retry"
    static let summary = "Run jobs again now (discarded, cancelled, retryable or scheduled ones)"
    static let usage = "ID... | --state discarded [--kind K] [--limit N]"
    static let options: Set<String> = ["state", "kind", "limit"]
    static let details = """
        A job out of attempts gets one more. Running jobs are left alone; completed jobs are not
        run again (their effects happened; enqueue a new job instead).
        Exit 1 if any named job could not be retried.

        Options:
          --state S   retry every job in state S (discarded, cancelled, retryable or scheduled)
          --kind K    with --state, only this kind
          --limit N   with --state, at most N jobs (default 1000)
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let connection = try context.connect()
        var ids = try Show.parseIDs(args.positionals)
        if let state = args.option("state") {
            guard ids.isEmpty else { throw CommandError.usage("give job ids or --state, not both") }
            guard ["discarded", "cancelled", "retryable", "scheduled"].contains(state) else {
                throw CommandError.usage("--state must be discarded, cancelled, retryable or scheduled, got \"\(state)\"")
            }
            let limit = try args.int("limit", range: 1...100_000) ?? 1000
            ids = try connection.query(AdminQueries.idsByState, [state, args.option("kind"), limit]).map { try $0.int64("id") }
        } else if ids.isEmpty {
            throw CommandError.usage("give job ids, or --state discarded [--kind K]")
        } else if args.option("kind") != nil {
            throw CommandError.usage("--kind goes with --state")
        }
        let retried = Set(try connection.query(AdminQueries.retry, [ids]).map { try $0.int64("id") })
        let failed = try BulkAnswer.failures(ids, done: retried, on: connection) { state in
            state == "running" ? "is running" : "is \(state); not run again"
        }
        if context.json {
            context.print(json: BulkAnswer.json(done: "retried", ids: ids, succeeded: retried, failed: failed))
        } else {
            if !retried.isEmpty { context.print("retried \(retried.count) job(s): \(ids.filter(retried.contains).map(String.init).joined(separator: " "))") }
            if retried.isEmpty && failed.isEmpty { context.print("No jobs to retry.") }
            BulkAnswer.printFailures(failed, command: name)
        }
        return failed.isEmpty ? 0 : 1
    }
}

struct JobsCancelCommand: Command {
    static let name = "jobs cancel"
    static let summary = "Cancel jobs; a running one is also stopped by its worker"
    static let usage = "ID... [--actor A]"
    static let options: Set<String> = ["actor"]
    static let details = """
        Scheduled, available, retryable and running jobs become cancelled. A running job's worker
        hears it at once (NOTIFY) and cancels the run; whatever the run does afterwards is not
        applied. Exit 1 if any job was already finished or does not exist.
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let ids = try Show.parseIDs(args.positionals)
        guard !ids.isEmpty else { throw CommandError.usage("give one or more job ids") }
        let actor = args.option("actor") ?? "an operator"
        let connection = try context.connect()
        var cancelled: [Int64: String] = [:]
        for row in try connection.query(AdminQueries.cancel, [ids, actor]) { cancelled[try row.int64("id")] = try row.string("was") }
        let failed = try BulkAnswer.failures(ids, done: Set(cancelled.keys), on: connection) { "is already \($0)" }
        if context.json {
            context.print(json: BulkAnswer.json(done: "cancelled", ids: ids, succeeded: Set(cancelled.keys), failed: failed))
        } else {
            for id in ids where cancelled[id] != nil {
                context.print("cancelled job \(id)\(cancelled[id] == "running" ? " (its worker was told to stop it)" : "")")
            }
            BulkAnswer.printFailures(failed, command: name)
        }
        return failed.isEmpty ? 0 : 1
    }
}

struct JobsStatsCommand: Command {
    static let name = "jobs stats"
    static let summary = "Jobs by queue and state, the oldest waiting job, completions and failures lately"
    static let usage = ""

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let connection = try context.connect()
        struct Stats {
            var states: [String: Int64] = [:]
            var completedMinute: Int64 = 0, completedHour: Int64 = 0
            var failedMinute: Int64 = 0, failedHour: Int64 = 0
            var oldestAge: Double?
        }
        var byQueue: [String: Stats] = [:]
        for row in try connection.query(AdminQueries.activeCounts) {
            byQueue[try row.string("queue"), default: Stats()].states[try row.string("state")] = try row.int64("n")
        }
        for row in try connection.query(AdminQueries.recentFinished) {
            let q = try row.string("queue")
            let state = try row.string("state")
            let hour = try row.int64("hour"), minute = try row.int64("minute")
            if state == "completed" {
                byQueue[q, default: Stats()].completedHour += hour
                byQueue[q, default: Stats()].completedMinute += minute
            } else if state == "discarded" {
                byQueue[q, default: Stats()].failedHour += hour
                byQueue[q, default: Stats()].failedMinute += minute
            }
        }
        for row in try connection.query(AdminQueries.recentRetries) {
            let q = try row.string("queue")
            byQueue[q, default: Stats()].failedHour += try row.int64("hour")
            byQueue[q, default: Stats()].failedMinute += try row.int64("minute")
        }
        for row in try connection.query(AdminQueries.oldestAvailable) {
            byQueue[try row.string("queue"), default: Stats()].oldestAge = Double(try row.string("age_s"))
        }
        let active = ["scheduled", "available", "running", "retryable"]
        if context.json {
            var queues: [String: JSON] = [:]
            for (q, s) in byQueue {
                var states: [String: JSON] = [:]
                for st in active { states[st] = .int(s.states[st] ?? 0) }
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
        var table = Table(["queue"] + active + ["oldest", "done 1m", "done 1h", "failed 1m", "failed 1h"])
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
