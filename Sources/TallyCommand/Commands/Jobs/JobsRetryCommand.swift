import Foundation
import Postgres
import Queue

struct JobsRetryCommand: Command {
    static let name = "jobs retry"
    static let summary = "Run jobs again now (discarded, cancelled, retryable or scheduled ones)"
    static let usage = "ID... | --state discarded [--kind K] [--limit N]"
    static let options: Set<String> = ["state", "kind", "limit"]
    static let audited = true
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
            guard ["discarded", "cancelled", "retryable", "scheduled"].contains(state), let jobState = JobState(rawValue: state) else {
                throw CommandError.usage("--state must be discarded, cancelled, retryable or scheduled, got \"\(state)\"")
            }
            let limit = try args.int("limit", range: 1...100_000) ?? 1000
            ids = try JobStore.jobIDs(state: jobState, kind: args.option("kind"), limit: limit, on: connection)
        } else if ids.isEmpty {
            throw CommandError.usage("give job ids, or --state discarded [--kind K]")
        } else if args.option("kind") != nil {
            throw CommandError.usage("--kind goes with --state")
        }
        let retried = try connection.transaction { tx in
            let retried = try JobStore.retry(ids, on: tx)
            try context.audit(target: Self.target(ids), details: ["requested": .int(Int64(ids.count)), "retried": .array(retried.sorted().map { .int($0) }),
                                                                   "state": .optional(args.option("state")), "kind": .optional(args.option("kind"))], on: tx)
            return retried
        }
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

    /// The audit's target for some job ids: `jobs:1,2,3`.
    static func target(_ ids: [Int64]) -> String { "jobs:" + ids.map(String.init).joined(separator: ",") }
}
