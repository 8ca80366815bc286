import Console
import Foundation
import Postgres
import Support

/// `ops/bench --only console`: every console page with 1,000,000 finished jobs in the table
/// (a week of them, the last hour included, 2% discarded and 1% cancelled), fetched over
/// keep-alive HTTP one after another by a signed-in operator; `console_page_p99_ms` is the
/// 99th percentile over all of them (target ≤ 100 ms), and the table gives each page's.
struct ConsoleBench {
    let context: BenchContext
    var finishedJobs = Int(Environment()["TALLY_BENCH_CONSOLE_JOBS"] ?? "") ?? 1_000_000
    var rounds = 30

    func run(_ results: inout Results) throws {
        let url = try context.freshDatabase("tally_bench_console")
        let c = try Connection.connect(url)
        log("inserting \(finishedJobs) finished jobs")
        try c.execute("""
            INSERT INTO jobs (queue, kind, args, state, attempt, created_at, attempted_at, finished_at, errors, result)
            SELECT (ARRAY['default', 'payments', 'notify', 'maintenance'])[1 + g % 4],
                   (ARRAY['usage.record', 'stripe.event', 'notify.deliver', 'account.open', 'rewards.action'])[1 + g % 5],
                   jsonb_build_object('user_id', 'user-' || (g % 10000)),
                   CASE WHEN g % 100 < 2 THEN 'discarded' WHEN g % 100 = 2 THEN 'cancelled' ELSE 'completed' END::job_state, 1,
                   now() - ((\(finishedJobs) - g) * (604800.0 / \(finishedJobs))) * interval '1 second' - interval '1 second',
                   now() - ((\(finishedJobs) - g) * (604800.0 / \(finishedJobs))) * interval '1 second' - interval '1 second',
                   now() - ((\(finishedJobs) - g) * (604800.0 / \(finishedJobs))) * interval '1 second',
                   CASE WHEN g % 100 < 2 THEN '[{"at": "2026-12-07T10:00:00Z", "attempt": 1, "message": "boom"}]'::jsonb ELSE '[]'::jsonb END,
                   CASE WHEN g % 100 > 2 THEN '{"ok": true}'::jsonb END
            FROM generate_series(1, \(finishedJobs)) g;
            INSERT INTO jobs (queue, kind, state) SELECT 'default', 'usage.record', 'available' FROM generate_series(1, 500);
            INSERT INTO jobs (queue, kind, state, run_at) SELECT 'payments', 'stripe.event', 'retryable', now() + interval '1 minute' FROM generate_series(1, 50);
            INSERT INTO accounts (user_id, opened_by) SELECT 'user-' || g, 'signup' FROM generate_series(0, 9999) g;
            INSERT INTO audit_log (actor, action, target) SELECT 'alice', 'jobs.retry', 'jobs:' || g FROM generate_series(1, 5000) g;
            """)
        try c.execute("VACUUM ANALYZE")
        let token = try Operators.create(name: "bench", on: c).token
        guard let signedIn = try Operators.signIn(token: token, ttl: 3600, on: c) else { throw Failure("the bench operator cannot sign in") }
        let someJob = try c.query(Query(adHoc: "SELECT max(id) / 2 AS id FROM jobs")).first?.int64("id") ?? 1

        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = url
        env["TALLY_CONSOLE_LISTEN"] = "127.0.0.1:0"
        let console = try Console(config: try ConsoleConfig.from(Environment(env)))
        console.start()
        defer { console.stop() }
        let client = try PageClient(port: console.port, cookie: "tally_console_session=\(signedIn.cookie)")

        let pages = ["/", "/jobs", "/jobs?state=discarded", "/jobs?state=completed&kind=stripe.event&queue=payments",
                     "/jobs?state=cancelled&since=1h", "/jobs?before=\(someJob)", "/jobs/\(someJob)", "/queues", "/workers",
                     "/accounts?user=user-42", "/purchases", "/endpoints", "/audit"]
        for page in pages { _ = try client.get(page) }  // warm: plans, caches, connections
        var all: [Double] = []
        var byPage: [String: [Double]] = [:]
        for _ in 0..<rounds {
            for page in pages {
                let started = monotonicNanos()
                let status = try client.get(page)
                guard status == 200 else { throw Failure("\(page) answered \(status)") }
                let ms = Double(monotonicNanos() - started) / 1e6
                all.append(ms)
                byPage[page, default: []].append(ms)
            }
        }
        for page in pages {
            let sorted = (byPage[page] ?? []).sorted()
            log(String(format: "  %-60@ p50 %7.2f ms  p99 %7.2f ms", page as NSString, Stats.percentile(sorted, 50), Stats.percentile(sorted, 99)))
        }
        let worst = pages.max { Stats.percentile((byPage[$0] ?? []).sorted(), 99) < Stats.percentile((byPage[$1] ?? []).sorted(), 99) } ?? ""
        results.add("console_page_p99_ms", Stats.percentile(all.sorted(), 99),
                    "every console page × \(rounds), \(finishedJobs) finished jobs in the table (slowest: \(worst))")
    }

    private func log(_ text: String) { FileHandle.standardError.write(Data("bench: \(text)\n".utf8)) }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// One keep-alive connection that GETs a page and reads the whole answer (Content-Length).
    final class PageClient {
        private let fd: Int32
        private let cookie: String

        init(port: UInt16, cookie: String) throws {
            self.cookie = cookie
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard ok == 0 else { throw Failure("cannot connect to the console: errno \(errno)") }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }

        deinit { close(fd) }

        /// The status of `GET path`, once its whole body has arrived.
        func get(_ path: String) throws -> Int {
            let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: \(cookie)\r\n\r\n".utf8)
            guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
                throw Failure("send failed: errno \(errno)")
            }
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                if let end = received.firstRange(of: [13, 10, 13, 10]) {
                    let head = String(decoding: received[..<end.lowerBound], as: UTF8.self)
                    let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                        .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                    if received.count >= end.upperBound + length {
                        return Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
                    }
                }
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { throw Failure("the console closed the connection") }
                received += buffer[..<n]
            }
        }
    }
}
