import Foundation
import JobRuntime
import Jobs
import Queue
import Support

struct EnqueueCommand: Command {
    static let name = "enqueue"
    static let summary = "Insert a job of a known kind"
    static let usage = "KIND --args JSON [--key K] [--at TIME] [--queue Q] [--priority P] [--max-attempts N]"
    static let options: Set<String> = ["args", "key", "at", "queue", "priority", "max-attempts"]
    static let details = """
        Options:
          --args JSON        the job's args, a JSON object (default {}); they must decode into
                             the kind's args (exit 2 otherwise: a job that can only fail is
                             not enqueued), so only a kind that takes none may go without
          --key K            an idempotency key: if a job with it exists, its id is printed instead
          --at TIME          when to run: ISO-8601 (2026-11-21T15:00:00Z) or +30s / +5m / +2h / +1d
          --queue Q          the queue (default: the kind's queue)
          --priority P       0 (first) to 9 (default 5)
          --max-attempts N   attempts before the job is discarded (default 20)

        Example: tally enqueue credits.rollover --args '{"as_of": "2026-12-01T00:00:00Z"}'
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let kind = try args.expect(["KIND"], command: name)[0]
        let registry = try JobRegistry.standard(environment: context.environment)
        guard registry.queue(for: kind) != nil else {
            throw CommandError.usage("unknown kind \"\(kind)\"; known kinds: \(registry.kinds.joined(separator: ", "))")
        }
        let argsText = args.option("args") ?? "{}"
        let parsed: JSON
        do { parsed = try JSON.parse(argsText) } catch {
            throw CommandError.usage("--args is not valid JSON: \(error)")
        }
        guard case .object = parsed else { throw CommandError.usage("--args must be a JSON object, like {\"user_id\": \"u1\"}") }
        var runAt: Date?
        if let at = args.option("at") {
            guard let date = Timestamp.parseAt(at) else {
                throw CommandError.usage("--at takes ISO-8601 (2026-11-21T15:00:00Z) or +30s/+5m/+2h, got \"\(at)\"")
            }
            runAt = date
        }
        var job = registry.newJob(kind, args: parsed, queue: args.option("queue"), runAt: runAt, uniqueKey: args.option("key"))!
        if let p = try args.int("priority", range: 0...9) { job.priority = p }
        if let n = try args.int("max-attempts", range: 1...1000) { job.maxAttempts = n }
        do { try job.validate() } catch { throw CommandError.usage(error.description) }
        // What the worker will decode: the stored text, not the option's.
        do { try registry.handler(for: kind)?.validate(argsJSON: job.argsJSON) } catch {
            throw CommandError.usage(error.description + (args.option("args") == nil ? " (give them with --args JSON)" : ""))
        }
        let connection = try context.connect()
        let result = try Enqueuer().enqueue(job, on: connection)
        if context.json {
            context.print(json: ["id": .int(result.id), "inserted": .bool(result.inserted)])
        } else if result.inserted {
            context.print("enqueued job \(result.id) (\(kind) on queue \(job.queue))")
        } else {
            context.print("job \(result.id) already has key \(job.uniqueKey ?? ""); nothing inserted")
        }
        return 0
    }
}
