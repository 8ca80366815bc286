import Foundation
import Postgres
import Support

// tally-bench: the measurements behind ops/bench. Prints a table, the PostgreSQL settings it
// ran with, and as its last line one JSON object of every figure.
//   tally-bench [--only queue|ledger|wallet|stripe|stream|console]   (ops/bench runs the ingress section with ops/bench-ingress)   (DATABASE_URL: a database of the cluster to use)

var only: String?
var args = Array(CommandLine.arguments.dropFirst())
while let a = args.first {
    args.removeFirst()
    switch a {
    case "--only":
        guard let v = args.first else { FileHandle.standardError.write(Data("--only needs queue, ledger, stripe, stream or console\n".utf8)); exit(2) }
        only = v
        args.removeFirst()
    default:
        FileHandle.standardError.write(Data("usage: tally-bench [--only queue|ledger|wallet|stripe|stream|console]\n".utf8))
        exit(2)
    }
}
guard let adminURL = Environment()["DATABASE_URL"] else {
    FileHandle.standardError.write(Data("tally-bench: DATABASE_URL is not set (ops/bench sets it)\n".utf8))
    exit(2)
}
let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let context = BenchContext(adminURL: adminURL, tallyBinary: here.appendingPathComponent("tally"))

do {
    let c = try Connection.connect(adminURL)
    var settings: [String] = []
    for name in ["server_version", "fsync", "synchronous_commit", "full_page_writes", "wal_level", "shared_buffers", "max_wal_size", "max_connections"] {
        let v = try c.query("SELECT current_setting($1) AS v", [name]).first?.string("v") ?? "?"
        settings.append("\(name)=\(v)")
    }
    print("PostgreSQL settings: " + settings.joined(separator: " "))
    guard try c.query("SELECT current_setting('fsync') = 'on' AND current_setting('synchronous_commit') = 'on' AS ok").first?.bool("ok") == true else {
        FileHandle.standardError.write(Data("tally-bench: refusing to measure with fsync or synchronous_commit off\n".utf8))
        exit(1)
    }
    let cpus = ProcessInfo.processInfo.activeProcessorCount
    print("Machine: \(cpus) cores, \(ProcessInfo.processInfo.physicalMemory / (1 << 30)) GiB; PostgreSQL on the same machine")
    var results = Results()
    if only == nil || only == "queue" { try QueueBench(context: context).run(&results) }
    if only == nil || only == "ledger" || only == "wallet" {
        // `--only wallet`: the holds and transfers of the ledger section alone.
        let url = try context.freshDatabase("tally_bench_ledger")
        let log: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("bench: \($0)\n".utf8)) }
        if only != "wallet" {
            let figures = try await runLedgerBench(databaseURL: url, tallyBinary: context.tallyBinary.path, log: log)
            results.add("debit_hot_per_s", figures["debit_hot_per_s"] ?? .nan, "usage.record jobs on one account, 2 worker processes")
            results.add("debit_spread_per_s", figures["debit_spread_per_s"] ?? .nan, "usage.record jobs over 10,000 accounts, 2 worker processes")
        }
        let wallet = try await WalletBench(databaseURL: url, tallyBinary: context.tallyBinary.path, workerQueues: "default=2000").run(log: log)
        results.add("hold_capture_per_s", wallet["hold_capture_per_s"] ?? .nan, "hold then capture pairs over 10,000 accounts, 2 worker processes")
        results.add("hold_hot_per_s", wallet["hold_hot_per_s"] ?? .nan, "hold then capture pairs on one account, 2 worker processes")
        results.add("transfer_per_s", wallet["transfer_per_s"] ?? .nan, "transfers between 10,000 accounts, 2 worker processes")
        if only != "wallet" { try WaitBench(context: context).run(&results) }
    }
    if only == nil || only == "stripe" {
        let url = try context.freshDatabase("tally_bench_stripe")
        let queues = Environment()["TALLY_BENCH_STRIPE_QUEUES"] ?? "payments=2000"
        let figures = try await runStripeBench(
            databaseURL: url, tallyBinary: context.tallyBinary.path,
            fixture: root.appendingPathComponent("Tests/Fixtures/stripe/checkout.session.completed.payment_topup.json"),
            workerQueues: queues, log: { FileHandle.standardError.write(Data("bench: \($0)\n".utf8)) })
        results.add("stripe_backlog_one_user_per_s", figures["stripe_backlog_one_user_per_s"] ?? .nan,
                    "Stripe top-ups for one user, a backlog drained by 2 workers (--queues \(queues))")
        results.add("stripe_backlog_100_users_per_s", figures["stripe_backlog_100_users_per_s"] ?? .nan,
                    "Stripe top-ups over 100 users, a backlog drained by 2 workers (--queues \(queues))")
    }
    if only == nil || only == "stream" { try StreamBench(context: context).run(&results) }
    // Only when asked: 15 minutes of steady load (and up to 5 more of recovery).
    if only == "pressure" { try PressureBench(context: context).run(&results) }
    if only == nil || only == "console" { try ConsoleBench(context: context).run(&results) }
    print("")
    print(results.table())
    print(results.json.serialized)
} catch {
    FileHandle.standardError.write(Data("tally-bench: \(error)\n".utf8))
    exit(1)
}
