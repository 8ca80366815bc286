import Dispatch
import Foundation
import Postgres
import Queue
import Support

/// `ops/bench --only pressure` (issue 17): a steady 2,000 `bench.noop` jobs/s through enqueue
/// and 2 worker processes while, for the middle of the run, another session holds a snapshot
/// open (a `REPEATABLE READ` transaction that read one row), so vacuum can remove none of the
/// dead job versions the run leaves behind.
///
/// Figures: `pressure_throughput_ratio` (jobs done ÷ jobs offered, over the whole run),
/// `pressure_latency_p99_ms` (enqueue → start, the worst minute), `pressure_bloat_recovery_s`
/// (after the snapshot ends, seconds until the job table's dead rows are back within 20 % of
/// their level before it — a table's size on disk never shrinks without `VACUUM FULL`, so its
/// dead rows are what recover; -1 if they did not within 300 s). A per-minute table goes to
/// stderr. `TALLY_BENCH_PRESSURE_MINUTES` (default 15; the snapshot is held for the middle
/// two thirds) shortens it.
struct PressureBench {
    let context: BenchContext

    func run(_ results: inout Results) throws {
        let env = Environment()
        let minutes = max(3, Int(env["TALLY_BENCH_PRESSURE_MINUTES"] ?? "") ?? 15)
        let rate = 2_000, tick = 0.01, perTick = Int(Double(rate) * tick)
        let url = try context.freshDatabase("tally_bench_pressure")
        let c = try Connection.connect(url, applicationName: "tally-bench")
        let workers = try context.startWorkers(2, databaseURL: url, queues: "default=2000", label: "pressure")
        defer { context.stop(workers) }
        guard try pollUntil(timeout: 30, { try c.query("SELECT count(*) AS n FROM workers").first?.int("n") == 2 }) else {
            throw BenchError("the workers did not start")
        }
        func log(_ s: String) { FileHandle.standardError.write(Data("bench: pressure: \(s)\n".utf8)) }
        func deadRows() throws -> Int64 {
            try c.query("SELECT COALESCE(n_dead_tup, 0) AS n FROM pg_stat_user_tables WHERE relid = 'jobs'::regclass").first?.int64("n") ?? 0
        }
        func sizeMB() throws -> Int64 {
            try c.query("SELECT (pg_total_relation_size('jobs') / 1048576)::bigint AS mb").first?.int64("mb") ?? 0
        }

        let enqueuer = Enqueuer()
        let holder = try Connection.connect(url, applicationName: "tally-bench-snapshot")
        // The point is a snapshot left open: past Tally's own idle-in-transaction limit.
        try holder.execute("SET idle_in_transaction_session_timeout = 0")
        let total = Double(minutes * 60)
        let holdFrom = total / 6, holdUntil = total * 5 / 6
        var holding = false
        var deadBefore: Int64 = 0
        var releasedAt: Double?, recoveredAt: Double?, lastCheck = 0.0
        var offered = 0
        var perMinute: [(minute: Int, dead: Int64, mb: Int64)] = []
        let start = DispatchTime.now().uptimeNanoseconds
        var ticks = 0
        while true {
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if elapsed >= total { break }
            if !holding && elapsed >= holdFrom && elapsed < holdUntil {
                deadBefore = try deadRows()
                try holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                _ = try holder.query("SELECT id FROM jobs LIMIT 1")
                holding = true
                log(String(format: "snapshot held from %.0f s (dead rows before: %d)", elapsed, deadBefore))
            } else if holding && elapsed >= holdUntil {
                try holder.execute("ROLLBACK")
                holding = false
                releasedAt = elapsed
                log(String(format: "snapshot released at %.0f s", elapsed))
            }
            // Recovery is timed from the release, while the load goes on: a look a second.
            if let released = releasedAt, recoveredAt == nil, elapsed - lastCheck >= 1 {
                lastCheck = elapsed
                if Double(try deadRows()) <= Double(deadBefore) * 1.2 + 1_000 { recoveredAt = elapsed - released }
            }
            if Int(elapsed / 60) >= perMinute.count {
                perMinute.append((perMinute.count, try deadRows(), try sizeMB()))
            }
            // An absolute schedule: a late tick is caught up, never dropped.
            let due = start + UInt64(Double(ticks) * tick * 1e9)
            let now = DispatchTime.now().uptimeNanoseconds
            if due > now { usleep(UInt32((due - now) / 1000)) }
            try c.transaction { tx in _ = try enqueuer.enqueue(Array(repeating: NewJob(kind: "bench.noop", queue: "default"), count: perTick), on: tx) }
            offered += perTick
            ticks += 1
        }
        if holding { try holder.execute("ROLLBACK") }
        // The run's last jobs get a few seconds to finish: what is still unfinished then was not kept up with.
        _ = try pollUntil(timeout: 10) {
            try c.query("SELECT count(*) AS n FROM jobs WHERE state IN ('available', 'running')").first?.int("n") == 0
        }
        let done = try c.query("SELECT count(*) AS n FROM jobs WHERE kind = 'bench.noop' AND state = 'completed'").first?.int64("n") ?? 0
        let latency = try c.query("""
            WITH j AS (
                SELECT floor(EXTRACT(EPOCH FROM created_at - (SELECT min(created_at) FROM jobs WHERE kind = 'bench.noop')) / 60)::int AS minute,
                       EXTRACT(EPOCH FROM attempted_at - created_at) * 1000 AS ms
                FROM jobs WHERE kind = 'bench.noop' AND attempted_at IS NOT NULL
            )
            SELECT minute, count(*) AS n, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::float8 AS p99 FROM j GROUP BY minute ORDER BY minute
            """).map { (minute: try $0.int("minute"), n: try $0.int64("n"), p99: Double(try $0.string("p99")) ?? .nan) }

        // Not recovered while the load ran: wait for it, up to 300 s from the release.
        var recovery = recoveredAt ?? -1
        if recoveredAt == nil, let released = releasedAt {
            let waitedFrom = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if try pollUntil(timeout: max(0, 300 - (waitedFrom - released)), every: 1, { Double(try deadRows()) <= Double(deadBefore) * 1.2 + 1_000 }) {
                recovery = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 - released
            }
        }

        log("minute  started  p99_ms  dead_rows  jobs_mb  snapshot")
        for l in latency {
            let m = perMinute.first { $0.minute == l.minute }
            let held = Double(l.minute * 60 + 60) > holdFrom && Double(l.minute * 60) < holdUntil ? "held" : ""
            log(String(format: "%6d  %7d  %6.1f  %9d  %7d  %@", l.minute, l.n, l.p99, m?.dead ?? -1, m?.mb ?? -1, held))
        }
        let ratio = offered > 0 ? Double(done) / Double(offered) : .nan
        let worst = latency.filter { $0.n >= 100 }.map(\.p99).max() ?? .nan
        results.add("pressure_throughput_ratio", (ratio * 1000).rounded() / 1000, "jobs done ÷ offered, \(rate)/s for \(minutes) min, a snapshot held for the middle two thirds")
        results.add("pressure_latency_p99_ms", (worst * 10).rounded() / 10, "enqueue→start p99, the worst minute of that run")
        results.add("pressure_bloat_recovery_s", recovery.rounded(), "after the snapshot ends, until the job table's dead rows are within 20 % of before (-1: not in 300 s)")
    }
}
