import Dispatch
import Foundation
import Postgres
import Queue
import Support

/// Makes scheduled and retryable jobs available when they come due, and notifies their
/// queues. It sleeps until the next due job (at most `schedulerInterval`), and is told by
/// the completer when a retry or snooze falls due sooner.
struct Scheduler: Sendable {
    let loop: Loop
    let pool: ConnectionPool
    let config: WorkerConfig
    /// Wakes this process's producers for the queues that got jobs.
    let promoted: @Sendable ([String]) -> Void

    static let batch = 1000

    func run() async {
        await loop.run {
            do {
                let (queues, full, next) = try await pool.withConnection { c -> ([String], Bool, Date?) in
                    let rows = try JobStore.promoteDue(limit: Scheduler.batch, on: c)
                    var total = 0
                    var queues: [String] = []
                    for row in rows {
                        queues.append(row.queue)
                        total += row.count
                    }
                    let next = try JobStore.nextDue(on: c)
                    return (queues, total >= Scheduler.batch, next)
                }
                if !queues.isEmpty { promoted(queues) }
                if full { return 0 }
                guard let next else { return config.schedulerInterval }
                return max(0.001, min(next.timeIntervalSinceNow, config.schedulerInterval))
            } catch {
                Log.warn("scheduler pass failed", ["error": error])
                return config.schedulerInterval
            }
        }
    }

    /// Something becomes due in `seconds`: look then rather than at the regular pass.
    static func dueIn(_ seconds: Double, loop: Loop, interval: Double) {
        guard seconds < interval else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(max(seconds, 0) * 1e9) + 500_000)) {
            loop.poke()
        }
    }
}
