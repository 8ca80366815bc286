import Foundation
import Postgres
import Queue

struct JobsCancelCommand: Command {
    static let name = "jobs cancel"
    static let summary = "Cancel jobs; a running one is also stopped by its worker"
    static let usage = "ID... [--actor A] [--reason R]"
    static let audited = true
    static let details = """
        Scheduled, available, retryable and running jobs become cancelled. A running job's worker
        hears it at once (NOTIFY) and cancels the run; whatever the run does afterwards is not
        applied. Exit 1 if any job was already finished or does not exist.
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let ids = try Show.parseIDs(args.positionals)
        guard !ids.isEmpty else { throw CommandError.usage("give one or more job ids") }
        let connection = try context.connect()
        let cancelled = try connection.transaction { tx in
            let cancelled = try JobStore.cancel(ids, by: context.actor, on: tx)
            try context.audit(target: JobsRetryCommand.target(ids), details: ["requested": .int(Int64(ids.count)),
                                                                               "cancelled": .array(cancelled.keys.sorted().map { .int($0) })], on: tx)
            return cancelled
        }
        let failed = try BulkAnswer.failures(ids, done: Set(cancelled.keys), on: connection) { "is already \($0)" }
        if context.json {
            context.print(json: BulkAnswer.json(done: "cancelled", ids: ids, succeeded: Set(cancelled.keys), failed: failed))
        } else {
            for id in ids where cancelled[id] != nil {
                context.print("cancelled job \(id)\(cancelled[id] == .running ? " (its worker was told to stop it)" : "")")
            }
            BulkAnswer.printFailures(failed, command: name)
        }
        return failed.isEmpty ? 0 : 1
    }
}
