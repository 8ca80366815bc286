// swift-tools-version:6.0
// Tally: a credits wallet built as a PostgreSQL job-queue worker system.
// No package dependencies (DESIGN.md, Hard rules): Foundation, Dispatch, XCTest and the
// system C libraries libpq and OpenSSL through system library targets.
import PackageDescription

let package = Package(
    name: "tally",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tally", targets: ["TallyCommand"]),
        .executable(name: "tally-bench", targets: ["Bench"]),
        .executable(name: "tally-dev-fakes", targets: ["DevFakesServer"]),
        .executable(name: "tally-simulate", targets: ["Simulate"]),
    ],
    targets: [
        // C libraries (Debian: libpq-dev, libssl-dev).
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // Linux headers the Glibc module leaves out (epoll).
        .systemLibrary(name: "CSystem"),

        // Dependency direction: TallyCommand → Enqueue/Worker → Jobs → JobRuntime → Queue →
        // Postgres → Support. Worker runs jobs through JobRuntime alone: it never sees the
        // credits domain (Jobs), which only the composition points (TallyCommand, Bench) join in.
        // The ingress's HTTP: Enqueue → HTTPServer → Support (ParserFuzz → HTTPServer too).
        .target(name: "Support", dependencies: ["COpenSSL"]),
        .target(name: "Postgres", dependencies: ["CLibPQ", "Support"]),
        .target(name: "Queue", dependencies: ["Postgres", "Support"]),
        // The job runtime: the Job protocol, context, registry, batch jobs, the queue's own upkeep.
        .target(name: "JobRuntime", dependencies: ["Queue", "Postgres", "Support"]),
        // The kinds benchmarks and tests run (bench.noop, bench.effect, bench.fail).
        .target(name: "BenchJobs", dependencies: ["JobRuntime", "Queue", "Postgres", "Support"]),
        // The credits domain: ledger, Stripe, crypto, rewards, rollover, notifications.
        .target(name: "Jobs", dependencies: ["JobRuntime", "BenchJobs", "Queue", "Postgres", "Support"]),
        .target(name: "Worker", dependencies: ["JobRuntime", "Queue", "Postgres", "Support"]),
        // The general HTTP/1.1 server: nothing of the ingress, the job table or the database.
        .target(name: "HTTPServer", dependencies: ["Support", "CSystem"]),
        .target(name: "Enqueue", dependencies: ["HTTPServer", "Jobs", "JobRuntime", "Queue", "Postgres", "Support"]),
        // The operator console (`tally console`): server-rendered pages over the typed queue API.
        .target(name: "Console", dependencies: ["HTTPServer", "Jobs", "Queue", "Postgres", "Support"]),
        .executableTarget(name: "TallyCommand", dependencies: ["Console", "Enqueue", "HTTPServer", "Worker", "Jobs", "JobRuntime", "Queue", "Postgres", "Support"]),
        // ops/bench's load generator and measurements (prints a table and a JSON last line).
        .executableTarget(name: "Bench", dependencies: ["Console", "Enqueue", "Worker", "Jobs", "JobRuntime", "BenchJobs", "Queue", "Postgres", "Support", "CSystem"]),
        // Local stand-ins for CoinGecko, BitGo and the Stripe API answering the fixtures' payloads:
        // the tests' fakes, and `tally-dev-fakes`, which ops/run starts (never in production).
        .target(name: "DevFakes", dependencies: ["Support"]),
        .executableTarget(name: "DevFakesServer", dependencies: ["DevFakes"]),
        // ops/simulate's randomized fault simulation: drives `tally` processes through their
        // HTTP API, webhooks and command only (never the ledger's code), against its own model.
        .executableTarget(name: "Simulate", dependencies: ["DevFakes", "Support"]),
        // ops/fuzz's libFuzzer target on the HTTP request parser (inert unless built with -DFUZZING).
        .executableTarget(name: "ParserFuzz", dependencies: ["HTTPServer", "Support"]),

        // Tests run against a real PostgreSQL (ops/test starts a private cluster).
        .target(name: "TestSupport", dependencies: ["DevFakes", "Postgres", "Queue", "Support"], path: "Tests/TestSupport"),
        .testTarget(name: "SupportTests", dependencies: ["Support", "TestSupport"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"]),
        .testTarget(name: "QueueTests", dependencies: ["Queue", "Postgres", "TestSupport"]),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "JobRuntime", "BenchJobs", "Jobs", "Queue", "Postgres", "TestSupport"]),
        .testTarget(name: "JobsTests", dependencies: ["Jobs", "JobRuntime", "Worker", "Queue", "Postgres", "Support", "TestSupport"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "Support", "TestSupport"]),
        .testTarget(name: "EnqueueTests", dependencies: ["Enqueue", "HTTPServer", "Jobs", "JobRuntime", "Queue", "Postgres", "Support", "TestSupport"]),
        .testTarget(name: "ConsoleTests", dependencies: ["Console", "HTTPServer", "Jobs", "Queue", "Postgres", "Support", "TestSupport"]),
        .testTarget(name: "CommandTests", dependencies: ["Jobs", "Support", "Postgres", "Queue", "TestSupport"]),
    ]
)
