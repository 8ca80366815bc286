import Foundation
import Postgres
import Queue
import Support

/// Enqueues cron occurrences. Every worker runs it; `CronSchedule.enqueueOccurrence` makes
/// each occurrence one job. After downtime only the latest missed occurrence is enqueued.
struct PeriodicEnqueuer: Sendable {
    let loop = Loop(name: "periodic-enqueuer")
    let pool: ConnectionPool
    let enqueuer: Enqueuer
    let schedules: [CronSchedule]

    func run() async {
        guard !schedules.isEmpty else { return }
        // The latest occurrence handled (enqueued here or found already recorded) per schedule.
        var handled: [String: Date] = [:]
        await loop.run {
            let now = Date()
            var due: [(CronSchedule, Date)] = []
            for s in schedules {
                let occurrence = s.expression.previous(atOrBefore: now)
                if let last = handled[s.name], last >= occurrence { continue }
                due.append((s, occurrence))
            }
            if !due.isEmpty {
                let work = due
                let enqueuer = self.enqueuer
                do {
                    let results = try await pool.withConnection { c -> [(String, Date, Int64?)] in
                        try work.map { s, at in (s.name, at, try s.enqueueOccurrence(due: at, on: c, enqueuer: enqueuer)) }
                    }
                    for (name, at, id) in results {
                        handled[name] = at
                        if let id { Log.info("cron occurrence enqueued", ["schedule": name, "due": Timestamp.iso8601(at), "job_id": id]) }
                    }
                } catch {
                    Log.warn("cron enqueue failed, will retry", ["error": error])
                    return 1
                }
            }
            // Sleep until the next occurrence of any schedule (at most a minute, so a clock
            // change is noticed).
            var next = now.addingTimeInterval(60)
            for s in schedules { next = min(next, s.expression.next(after: now)) }
            return max(0.01, next.timeIntervalSinceNow + 0.001)
        }
    }
}
