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
    ],
    targets: [
        // C libraries (Debian: libpq-dev, libssl-dev).
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // Linux headers the Glibc module leaves out (epoll).
        .systemLibrary(name: "CSystem"),

        // Dependency direction: TallyCommand → Enqueue/Worker → Jobs → Queue → Postgres → Support.
        // The ingress's HTTP: Enqueue → HTTPServer → Support (ParserFuzz → HTTPServer too).
        .target(name: "Support", dependencies: ["COpenSSL"]),
        .target(name: "Postgres", dependencies: ["CLibPQ", "Support"]),
        .target(name: "Queue", dependencies: ["Postgres", "Support"]),
        .target(name: "Jobs", dependencies: ["Queue", "Postgres", "Support"]),
        .target(name: "Worker", dependencies: ["Jobs", "Queue", "Postgres", "Support"]),
        // The general HTTP/1.1 server: nothing of the ingress, the job table or the database.
        .target(name: "HTTPServer", dependencies: ["Support", "CSystem"]),
        .target(name: "Enqueue", dependencies: ["HTTPServer", "Jobs", "Queue", "Postgres", "Support"]),
        .executableTarget(name: "TallyCommand", dependencies: ["Enqueue", "Worker", "Jobs", "Queue", "Postgres", "Support"]),
        // ops/bench's load generator and measurements (prints a table and a JSON last line).
        .executableTarget(name: "Bench", dependencies: ["Enqueue", "Worker", "Jobs", "Queue", "Postgres", "Support"]),
        // ops/fuzz's libFuzzer target on the HTTP request parser (inert unless built with -DFUZZING).
        .executableTarget(name: "ParserFuzz", dependencies: ["HTTPServer", "Support"]),

        // Tests run against a real PostgreSQL (ops/test starts a private cluster).
        .target(name: "TestSupport", dependencies: ["Postgres", "Queue", "Support"], path: "Tests/TestSupport"),
        .testTarget(name: "SupportTests", dependencies: ["Support", "TestSupport"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"]),
        .testTarget(name: "QueueTests", dependencies: ["Queue", "Postgres", "TestSupport"]),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "Jobs", "Queue", "Postgres", "TestSupport"]),
        .testTarget(name: "JobsTests", dependencies: ["Jobs", "Worker", "Queue", "Postgres", "Support", "TestSupport"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer"]),
        .testTarget(name: "EnqueueTests", dependencies: ["Enqueue", "Jobs", "Queue", "Postgres", "Support", "TestSupport"]),
        .testTarget(name: "CommandTests", dependencies: ["Support", "Postgres", "Queue", "TestSupport"]),
    ]
)
