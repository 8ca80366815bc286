import Foundation
import Support
import TestSupport
import XCTest

final class JobCommandTests: CommandTestCase {
    /// A job whose args cannot decode into its kind's args could only be discarded: bad usage,
    /// the decoding problem on stderr, nothing enqueued. A kind that takes none needs no --args.
    /// Settings are read once at start: a worker given one it cannot use refuses to start
    /// (exit 2), naming the setting and what it must be, before it claims anything.
    func testAWorkerWithASettingItCannotUseRefusesToStart() throws {
        for (setting, value) in [("TALLY_TRIAL_CREDITS", "lots"), ("TALLY_STRIPE_FLAG_AFTER", "tomorrow"), ("TALLY_LEASE", "-1"),
                                 ("TALLY_BATCH", "maybe"), ("TALLY_CRYPTO_CONFIRMATIONS_BTC", "0"), ("TALLY_ROLLOVER_CAP", "-3")] {
            let run = try tally("worker", env: [setting: value], expect: 2)
            XCTAssertTrue(run.stderr.contains("\(setting)=\"\(value)\" cannot be used"), "\(setting): \(run.stderr)")
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM workers"), 0, "none started")
    }

    func testEnqueueRefusesArgsThatDoNotFitTheKind() throws {
        let missing = try tally("enqueue", "usage.record", expect: 2)
        XCTAssertEqual(missing.stdout, "")
        XCTAssertTrue(missing.stderr.contains("args do not fit usage.record: missing user_id"), missing.stderr)
        XCTAssertTrue(missing.stderr.contains("--args"), "says how to give them: \(missing.stderr)")
        XCTAssertEqual(missing.stderr.filter { $0 == "\n" }.count, 1, "one line: \(missing.stderr)")
        let wrongType = try tally("enqueue", "usage.record", "--args", #"{"user_id":"u1","agent":"default","units":"3","idempotency_key":"k"}"#,
                                  "--json", expect: 2)
        XCTAssertEqual(wrongType.stdout, "")
        XCTAssertTrue(wrongType.stderr.contains("args do not fit usage.record: units is not"), wrongType.stderr)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs"), 0, "nothing enqueued")

        let valid = try tally("enqueue", "usage.record", "--args", #"{"user_id":"u1","agent":"default","units":3,"idempotency_key":"k"}"#)
        XCTAssertTrue(valid.stdout.hasPrefix("enqueued job "), valid.stdout)
        XCTAssertTrue(try tally("enqueue", "jobs.prune").stdout.hasPrefix("enqueued job "), "a kind without args needs no --args")
        XCTAssertEqual(try db.scalar("SELECT string_agg(kind, ',' ORDER BY id) FROM jobs"), "usage.record,jobs.prune")
    }

    func testEnqueueListShowAndStats() throws {
        let first = try json("enqueue", "bench.effect", "--args", #"{"sleep_ms": 1}"#, "--key", "k-1", "--priority", "2")
        let id = try XCTUnwrap(first["id"]?.int64)
        XCTAssertEqual(first["inserted"]?.bool, true)
        let again = try json("enqueue", "bench.effect", "--key", "k-1")
        XCTAssertEqual(again["id"]?.int64, id)
        XCTAssertEqual(again["inserted"]?.bool, false)
        let later = try tally("enqueue", "bench.noop", "--at", "+2h", "--queue", "slow")
        XCTAssertTrue(later.stdout.hasPrefix("enqueued job "), later.stdout)

        let list = try json("jobs", "list")
        let jobs = try XCTUnwrap(list["jobs"]?.array)
        XCTAssertEqual(jobs.count, 2)
        XCTAssertEqual(jobs.first?["kind"]?.string, "bench.noop", "newest first")
        XCTAssertEqual(jobs.first?["state"]?.string, "scheduled")
        XCTAssertEqual(try json("jobs", "list", "--state", "available")["jobs"]?.array?.count, 1)
        XCTAssertEqual(try json("jobs", "list", "--queue", "slow")["jobs"]?.array?.count, 1)
        let page = try json("jobs", "list", "--limit", "1")
        XCTAssertEqual(page["jobs"]?.array?.count, 1)
        let next = try XCTUnwrap(page["next_before"]?.int64)
        XCTAssertEqual(try json("jobs", "list", "--before", String(next))["jobs"]?[0]?["id"]?.int64, id)

        let show = try json("jobs", "show", String(id))
        XCTAssertEqual(show["kind"]?.string, "bench.effect")
        XCTAssertEqual(show["args"]?["sleep_ms"]?.int64, 1)
        XCTAssertEqual(show["priority"]?.int64, 2)
        XCTAssertEqual(show["unique_key"]?.string, "k-1")
        let text = try tally("jobs", "show", String(id))
        XCTAssertTrue(text.stdout.contains("bench.effect") && text.stdout.contains("attempt       0 of 20"), text.stdout)

        let stats = try json("jobs", "stats")
        XCTAssertEqual(stats["queues"]?["default"]?["states"]?["available"]?.int64, 1)
        XCTAssertEqual(stats["queues"]?["slow"]?["states"]?["scheduled"]?.int64, 1)
        let table = try tally("jobs", "stats")
        XCTAssertTrue(table.stdout.hasPrefix("QUEUE"), table.stdout)
        XCTAssertTrue(table.stdout.contains("no snapshot held open"), table.stdout)
        XCTAssertEqual(stats["table"]?["oldest_snapshot_age_s"], .null)
        XCTAssertNotNil(stats["table"]?["dead_rows"]?.int64)

        // A snapshot held open (what holds vacuum back): the command names it.
        let holder = try db.connect()
        try holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        _ = try holder.query("SELECT id FROM jobs LIMIT 1")
        let held = try json("jobs", "stats")
        guard case .number(let age)? = held["table"]?["oldest_snapshot_age_s"], let seconds = Double(age) else {
            return XCTFail("no snapshot age while one is held: \(held)")
        }
        XCTAssertGreaterThanOrEqual(seconds, 0)
        XCTAssertGreaterThanOrEqual(held["table"]?["oldest_xmin_age"]?.int64 ?? -1, 0)
        XCTAssertTrue(try tally("jobs", "stats").stdout.contains("the oldest snapshot open for"))
        try holder.execute("ROLLBACK")
    }

    func testRetryAndCancel() throws {
        let c = try db.connect()
        let a = try XCTUnwrap(try json("enqueue", "bench.noop")["id"]?.int64)
        let b = try XCTUnwrap(try json("enqueue", "bench.noop")["id"]?.int64)
        try c.query("UPDATE jobs SET state = 'discarded', attempt = 20, finished_at = now() WHERE id = $1", [a])
        try c.query("UPDATE jobs SET state = 'completed', attempt = 1, finished_at = now() WHERE id = $1", [b])
        let retried = try json("jobs", "retry", String(a), String(b), "999999", expect: 1)
        XCTAssertEqual(retried["retried"]?.array?.compactMap(\.int64), [a])
        XCTAssertEqual(Set(retried["failed"]?.array?.compactMap { $0["id"]?.int64 } ?? []), [b, 999999])
        XCTAssertEqual(try db.scalar("SELECT state::text || ':' || max_attempts FROM jobs WHERE id = $1", [a]), "available:21",
                       "one more attempt for a job out of attempts")

        try c.query("UPDATE jobs SET state = 'discarded', finished_at = now() WHERE id = $1", [a])
        let bulk = try json("jobs", "retry", "--state", "discarded", "--kind", "bench.noop")
        XCTAssertEqual(bulk["retried"]?.array?.compactMap(\.int64), [a])

        let cancel = try tally("jobs", "cancel", String(a), env: ["TALLY_ACTOR": "ops@example.com"])
        XCTAssertEqual(cancel.stdout, "cancelled job \(a)\n")
        let again = try tally("jobs", "cancel", String(a), expect: 1)
        XCTAssertEqual(again.stderr, "tally jobs cancel: job \(a) is already cancelled\n")
        XCTAssertEqual(try db.scalar("SELECT errors->-1->>'message' FROM jobs WHERE id = $1", [a]), "cancelled by ops@example.com",
                       "the actor of the audit: TALLY_ACTOR here")
    }

    func testQueuesAndWorkers() throws {
        try tally("queues", "pause", "payments")
        let queues = try json("queues", "list")
        let payments = queues["queues"]?.array?.first { $0["name"]?.string == "payments" }
        XCTAssertEqual(payments?["paused"]?.bool, true)
        XCTAssertEqual(queues["queues"]?.array?.first { $0["name"]?.string == "default" }?["paused"]?.bool, false)
        try tally("queues", "resume", "payments")
        XCTAssertEqual(try json("queues", "list")["queues"]?.array?.first { $0["name"]?.string == "payments" }?["paused"]?.bool, false)
        XCTAssertEqual(try json("workers")["workers"]?.array?.count, 0)
        XCTAssertEqual(try tally("workers").stdout, "No workers alive.\n")
    }

    func testUsageErrorsExitTwoWithOneLine() throws {
        for (args, fragment) in [
            (["jobs", "list", "--bogus"], "unknown option --bogus"),
            (["jobs", "show"], "missing ID"),
            (["jobs", "show", "abc"], "positive integers"),
            (["jobs", "list", "--state", "sleeping"], "--state must be one of"),
            (["enqueue", "no.such.kind"], "unknown kind"),
            (["enqueue", "bench.noop", "--args", "[1]"], "must be a JSON object"),
            (["enqueue", "bench.noop", "--args", "{"], "not valid JSON"),
            (["enqueue", "bench.noop", "--at", "tomorrow"], "--at takes"),
            (["enqueue", "bench.noop", "--priority", "10"], "--priority must be"),
            (["frobnicate"], "unknown command"),
            (["jobs"], "say which"),
        ] {
            let run = try TallyRun.run(args, environment: ["DATABASE_URL": db.url])
            XCTAssertEqual(run.status, 2, "\(args): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains(fragment), "\(args): \(run.stderr)")
            XCTAssertEqual(run.stderr.filter { $0 == "\n" }.count, 1, "one line: \(run.stderr)")
        }
        let noDB = try TallyRun.run(["jobs", "list"], environment: ["DATABASE_URL": ""])
        XCTAssertEqual(noDB.status, 2)
        XCTAssertTrue(noDB.stderr.contains("DATABASE_URL is not set"), noDB.stderr)
        let missing = try tally("jobs", "show", "424242", expect: 1)
        XCTAssertEqual(missing.stderr, "tally jobs show: no job 424242\n")
        let down = try TallyRun.run(["jobs", "list"], environment: ["DATABASE_URL": "postgresql:///no_such_database_here"])
        XCTAssertEqual(down.status, 1)
    }

    func testHelpAnswersForEveryCommand() throws {
        let overview = try TallyRun.run(["--help"])
        XCTAssertEqual(overview.status, 0)
        let names = overview.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") }
            .compactMap { line -> String? in
                let words = line.split(separator: " ")
                guard let first = words.first, first.first?.isLetter == true else { return nil }
                // Command names are one or two words before the two-space gap.
                let text = line.dropFirst(2)
                guard let gap = text.range(of: "  ") else { return nil }
                return String(text[..<gap.lowerBound])
            }
        XCTAssertGreaterThan(names.count, 10)
        for name in names {
            let run = try TallyRun.run(name.split(separator: " ").map(String.init) + ["--help"])
            XCTAssertEqual(run.status, 0, name)
            XCTAssertTrue(run.stdout.hasPrefix("Usage: tally \(name)"), "\(name): \(run.stdout)")
        }
    }
}
