import Foundation
import Jobs
import Postgres
import Queue

/// What the overview shows, read on one connection: queues by state, throughput, workers,
/// paused queues, and the credits at a glance (`LedgerStats` of the last day and week).
struct OverviewData: Sendable {
    var stats: [String: QueueStats]
    var queues: [QueueSummary]
    var throughput: [ThroughputMinute]
    var workers: Int
    var day: LedgerStats
    var week: LedgerStats

    static func read(on c: Connection) throws -> OverviewData {
        let now = Date()
        return OverviewData(stats: try JobStore.stats(on: c), queues: try JobStore.queues(including: [], on: c),
                            throughput: try JobStore.throughput(on: c),
                            workers: try JobStore.workers(aliveWithin: .seconds(60), on: c).count,
                            day: try LedgerStats.read(since: now.addingTimeInterval(-86400), on: c),
                            week: try LedgerStats.read(since: now.addingTimeInterval(-7 * 86400), on: c))
    }

    var queueNames: [String] { Set(stats.keys).union(queues.map(\.name)).sorted() }

    /// The counts that refresh by themselves (`data-live` names → values), also sent by `/events`.
    static func liveCounts(_ stats: [String: QueueStats], workers: Int) -> [String: Int64] {
        var out: [String: Int64] = ["workers": Int64(workers)]
        var completed: Int64 = 0, failed: Int64 = 0
        for (queue, s) in stats {
            for state in JobState.allCases where !state.isFinished { out["\(queue):\(state.rawValue)"] = s.states[state] ?? 0 }
            out["\(queue):completed_hour"] = s.completedHour
            out["\(queue):failed_hour"] = s.failedHour
            completed += s.completedHour
            failed += s.failedHour
        }
        out["completed_hour"] = completed
        out["failed_hour"] = failed
        return out
    }
}
