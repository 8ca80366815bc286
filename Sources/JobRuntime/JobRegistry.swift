import Foundation
import Queue
import Support

/// The kinds a worker can run, and the cron schedules it keeps.
public struct JobRegistry: Sendable {
    private var handlers: [String: AnyJobHandler] = [:]
    public private(set) var schedules: [CronSchedule] = []

    public init() {}

    public mutating func register<J: Job>(_ job: J) {
        precondition(handlers[J.kind] == nil, "job kind \(J.kind) registered twice")
        handlers[J.kind] = AnyJobHandler(job)
    }

    /// A kind whose jobs claimed together run as one batch (`BatchJob`).
    public mutating func register<J: BatchJob>(_ job: J) {
        precondition(handlers[J.kind] == nil, "job kind \(J.kind) registered twice")
        handlers[J.kind] = AnyJobHandler(job, batchRunner: J.batchRunner(job), batchLimit: J.batchLimit)
    }

    /// Adds a cron schedule; its jobs take the attempt limit of their kind when it is registered.
    public mutating func schedule(_ schedule: CronSchedule) {
        precondition(!schedules.contains { $0.name == schedule.name }, "cron schedule \(schedule.name) defined twice")
        schedules.append(handlers[schedule.kind].map { schedule.with(maxAttempts: $0.maxAttempts) } ?? schedule)
    }

    /// Runs kind `J` on its own queue at every time `cron` names; the schedule is named after the kind.
    public mutating func schedule<J: Job>(_: J.Type, cron: String) throws {
        schedule(CronSchedule(name: J.kind, expression: try CronExpression(cron), kind: J.kind, queue: J.queue))
    }

    /// Replaces or removes schedules from `TALLY_SCHEDULE_<NAME>` settings (NAME in capitals,
    /// dots and dashes as underscores): a cron expression, or `off`.
    public mutating func applyScheduleOverrides(_ environment: Environment) throws {
        var result: [CronSchedule] = []
        for s in schedules {
            let setting = Self.scheduleSetting(s.name)
            guard let value = environment[setting] else {
                result.append(s)
                continue
            }
            if value.lowercased() == "off" { continue }
            let expression: CronExpression
            do { expression = try CronExpression(value) } catch {
                throw ConfigurationError(setting: setting, purpose: "a valid cron expression (\(error))")
            }
            result.append(s.with(expression: expression))
        }
        schedules = result
    }

    /// The setting that overrides schedule `name`: `TALLY_SCHEDULE_<NAME>`.
    public static func scheduleSetting(_ name: String) -> String {
        "TALLY_SCHEDULE_" + name.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    /// Settings that turn every schedule of this registry off.
    public var schedulesOffSettings: [String: String] {
        var values: [String: String] = [:]
        for s in schedules { values[Self.scheduleSetting(s.name)] = "off" }
        return values
    }

    public func handler(for kind: String) -> AnyJobHandler? { handlers[kind] }

    public var kinds: [String] { handlers.keys.sorted() }

    /// A job of a registered kind on its queue with its attempt limit (nil for an unknown kind):
    /// how the ingress, the command and tests enqueue, so every path gives a kind the same limits.
    public func newJob(_ kind: String, args: JSON = [:], queue: String? = nil, runAt: Date? = nil, uniqueKey: String? = nil,
                       uniqueWhileActive: Bool = false) -> NewJob? {
        guard let h = handlers[kind] else { return nil }
        return NewJob(kind: kind, args: args, queue: queue ?? h.queue, maxAttempts: h.maxAttempts, runAt: runAt,
                      uniqueKey: uniqueKey, uniqueWhileActive: uniqueWhileActive)
    }

    /// The default queue of `kind`, or nil when the kind is unknown.
    public func queue(for kind: String) -> String? { handlers[kind]?.queue }
}
