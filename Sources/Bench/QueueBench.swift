import Dispatch
import Foundation
import Postgres
import Queue
import Support

/// `ops/bench --only queue`: enqueue rates, drain rates with 1 and 2 worker processes, and
/// enqueue→start latency at a steady 200 jobs/s with idle workers.
struct QueueBench {
    let context: BenchContext
    var drainJobs = 50_000
    var workerQueues = "default=500"

    func run(_ results: inout Results) throws {
        try enqueueRates(&results)
        for processes in [1, 2] {
            let rate = try drain(processes: processes)
            results.add("drain_\(processes)proc_per_s", rate, "\(drainJobs) bench.noop jobs, \(processes) worker process(es), first claim to last completion")
        }
        try latency(&results)
    }

    private func enqueueRates(_ results: inout Results) throws {
        let url = try context.freshDatabase("tally_bench_enqueue")
        let connection = try Connection.connect(url)
        let notifier = ConnectionPool(url: url, maxConnections: 1)
        let enqueuer = Enqueuer(pool: notifier)
        // One job per transaction on one connection: each is one round trip and one commit.
        var n = 0
        let start = Date()
        while Date().timeIntervalSince(start) < 5 {
            try enqueuer.enqueue(NewJob(kind: "bench.noop", queue: "default"), on: connection)
            n += 1
        }
        results.add("enqueue_single_per_s", Double(n) / Date().timeIntervalSince(start), "one job per transaction, one connection, \(n) jobs")
        // Batches of 1,000 in one statement each.
        let batch = (0..<1000).map { _ in NewJob(kind: "bench.noop", queue: "batch") }
        var batches = 0
        let batchStart = Date()
        while Date().timeIntervalSince(batchStart) < 5 {
            try enqueuer.enqueue(batch, on: connection)
            batches += 1
        }
        results.add("enqueue_batch_per_s", Double(batches * 1000) / Date().timeIntervalSince(batchStart), "batches of 1,000, one connection, \(batches * 1000) jobs")
        notifier.close()
        // Batches of 10,000 without keys: COPY (more than Enqueuer.copyThreshold jobs). On a
        // database of its own, as each drain: not behind the 700,000 rows above (and their
        // autovacuum), which the unnest figures did not have to write behind.
        let copyURL = try context.freshDatabase("tally_bench_enqueue_copy")
        let copyConnection = try Connection.connect(copyURL)
        let copyNotifier = ConnectionPool(url: copyURL, maxConnections: 1)
        let copyEnqueuer = Enqueuer(pool: copyNotifier)
        let copyBatch = (0..<10_000).map { _ in NewJob(kind: "bench.noop", queue: "copy") }
        var copies = 0
        let copyStart = Date()
        while Date().timeIntervalSince(copyStart) < 5 {
            try copyEnqueuer.enqueue(copyBatch, on: copyConnection)
            copies += 1
        }
        results.add("enqueue_copy_per_s", Double(copies * 10_000) / Date().timeIntervalSince(copyStart),
                    "batches of 10,000 by COPY, one connection, \(copies * 10_000) jobs")
        copyNotifier.close()
        if Environment()["TALLY_BENCH_COPY_SWEEP"] == "1" { try copySweep() }
    }

    /// TALLY_BENCH_COPY_SWEEP=1: the measurements behind `Enqueuer.copyThreshold` and
    /// `Connection.defaultCopyChunkBytes`, printed to stderr (not figures of the JSON line).
    /// Each run starts from an empty job table; the two paths alternate, twice each.
    private func copySweep() throws {
        let url = try context.freshDatabase("tally_bench_copy_sweep")
        let connection = try Connection.connect(url)
        func rate(_ enqueuer: Enqueuer, batchSize: Int, seconds: Double) throws -> Double {
            try connection.execute("TRUNCATE jobs")
            let batch = (0..<batchSize).map { i in NewJob(kind: "bench.noop", args: ["n": .int(i)], queue: "sweep") }
            var n = 0
            let start = Date()
            while Date().timeIntervalSince(start) < seconds {
                try enqueuer.enqueue(batch, on: connection)
                n += batchSize
            }
            return Double(n) / Date().timeIntervalSince(start)
        }
        func log(_ s: String) { FileHandle.standardError.write(Data("bench: sweep: \(s)\n".utf8)) }
        let insert = Enqueuer(copyThreshold: .max), copy = Enqueuer(copyThreshold: 1)
        let sizes = Environment()["TALLY_BENCH_COPY_SWEEP_SIZES"].map { $0.split(separator: ",").compactMap { Int($0) } }
            ?? [10, 25, 50, 100, 150, 200, 400, 1000, 10_000]
        for size in sizes {
            var i: [Double] = [], c: [Double] = []
            for _ in 0..<2 {
                i.append(try rate(insert, batchSize: size, seconds: 1.5))
                c.append(try rate(copy, batchSize: size, seconds: 1.5))
            }
            log("batch \(size): insert \(i.map { Int($0) }) copy \(c.map { Int($0) }) jobs/s")
        }
        // Sizes round-robin, three rounds, so that a slow spell of the machine hits them all.
        let chunks = [8 << 10, 16 << 10, 32 << 10, 64 << 10, 256 << 10, 1 << 20]
        var byChunk: [Int: [Double]] = [:]
        for _ in 0..<3 {
            for chunk in chunks {
                byChunk[chunk, default: []].append(try rate(Enqueuer(copyThreshold: 1, copyChunkBytes: chunk), batchSize: 10_000, seconds: 2))
            }
        }
        for chunk in chunks {
            let r = byChunk[chunk] ?? []
            log("chunk \(chunk >> 10) KiB: copy \(r.map { Int($0) }) jobs/s (batches of 10,000)")
        }
    }

    /// Jobs/s from the first claim to the last completion, as the database recorded them.
    private func drain(processes: Int) throws -> Double {
        let url = try context.freshDatabase("tally_bench_drain")
        let connection = try Connection.connect(url)
        var left = drainJobs
        while left > 0 {
            let n = min(5000, left)
            try Enqueuer().enqueue((0..<n).map { _ in NewJob(kind: "bench.noop", queue: "default") }, on: connection)
            left -= n
        }
        try connection.execute("VACUUM ANALYZE jobs")
        let workers = try context.startWorkers(processes, databaseURL: url, queues: workerQueues, label: "drain")
        defer { context.stop(workers) }
        let done = try pollUntil(timeout: 600, every: 0.1) {
            try connection.query("SELECT count(*) AS n FROM jobs WHERE kind = 'bench.noop' AND state IN ('available', 'running')").first?.int("n") == 0
        }
        guard done else { throw BenchError("the drain did not finish in 10 minutes") }
        // Completions are written in batches; wait for the last ones.
        _ = try pollUntil(timeout: 30) {
            try connection.query("SELECT count(*) AS n FROM jobs WHERE state = 'completed' AND kind = 'bench.noop'").first?.int("n") == drainJobs
        }
        let row = try connection.query("""
            SELECT count(*) AS n, EXTRACT(EPOCH FROM max(finished_at) - min(attempted_at))::float8 AS seconds
            FROM jobs WHERE kind = 'bench.noop' AND state = 'completed'
            """).first!
        let n = Double(try row.int("n"))
        let seconds = Double(try row.string("seconds")) ?? .nan
        return n / seconds
    }

    private func latency(_ results: inout Results) throws {
        let url = try context.freshDatabase("tally_bench_latency")
        let connection = try Connection.connect(url)
        let workers = try context.startWorkers(2, databaseURL: url, queues: "default=50", label: "latency")
        defer { context.stop(workers) }
        guard try pollUntil(timeout: 30, { try connection.query("SELECT count(*) AS n FROM workers").first?.int("n") == 2 }) else {
            throw BenchError("the workers did not start")
        }
        let notifier = ConnectionPool(url: url, maxConnections: 1)
        let enqueuer = Enqueuer(pool: notifier)
        // A steady 200 jobs/s for 15 s on an absolute schedule (no drift), one job per transaction.
        let total = 3000, interval = 1.0 / 200
        let start = DispatchTime.now().uptimeNanoseconds
        for i in 0..<total {
            let due = start + UInt64(Double(i) * interval * 1e9)
            let now = DispatchTime.now().uptimeNanoseconds
            if due > now { usleep(UInt32((due - now) / 1000)) }
            try enqueuer.enqueue(NewJob(kind: "bench.noop", queue: "default"), on: connection)
        }
        _ = try pollUntil(timeout: 60) {
            try connection.query("SELECT count(*) AS n FROM jobs WHERE kind = 'bench.noop' AND attempted_at IS NOT NULL").first?.int("n") == total
        }
        let samples = try connection.query("""
            SELECT EXTRACT(EPOCH FROM attempted_at - created_at)::float8 * 1000 AS ms FROM jobs
            WHERE kind = 'bench.noop' AND attempted_at IS NOT NULL ORDER BY 1
            """).map { Double(try $0.string("ms")) ?? .nan }
        notifier.close()
        for p in [50.0, 90, 99] {
            results.add("latency_p\(Int(p))_ms", Stats.percentile(samples, p), "enqueue→start at 200 jobs/s, 2 idle workers, \(samples.count) jobs")
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
