import Foundation
import Postgres
import Queue
import Support

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
        let state = try args.option("state").map { s -> JobState in
            guard let state = JobState(rawValue: s) else {
                throw CommandError.usage("--state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(s)\"")
            }
            return state
        }
        let since = try Arguments.since(args.option("since"))
        let limit = try args.int("limit", range: 1...1000) ?? 20
        let before = try args.option("before").map { text -> Int64 in
            guard let n = Int64(text), n > 0 else { throw CommandError.usage("--before takes a job id, got \"\(text)\"") }
            return n
        }
        let connection = try context.connect()
        let jobs = try JobStore.list(state: state, kind: args.option("kind"), queue: args.option("queue"), since: since, before: before,
                                     limit: limit, on: connection)
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
