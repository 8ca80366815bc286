import Foundation
import Support
import TestSupport
import XCTest

/// A worker's own `/metrics` (TALLY_WORKER_METRICS_LISTEN): scraped while it runs jobs, the
/// counters move.
final class WorkerMetricsTests: CommandTestCase {
    func testAWorkersMetricsCountTheJobsItRuns() async throws {
        let process = try TallyProcess(["worker", "--queues", "default=4"],
                                       environment: ["DATABASE_URL": db.url, "TALLY_WORKER_METRICS_LISTEN": "127.0.0.1:0", "TALLY_LOG_LEVEL": "info",
                                                     "TALLY_POLL_INTERVAL": "0.2s"])
        defer { process.signal(SIGKILL) }
        var port: UInt16?
        try await waitUntil("the worker serves its metrics") {
            port = process.log.split(separator: "\n").lazy.compactMap { line -> UInt16? in
                guard line.contains("worker metrics listening"), let r = line.range(of: "address=127.0.0.1:") else { return nil }
                return UInt16(line[r.upperBound...].prefix { $0.isNumber })
            }.first
            return port != nil
        }
        let listening = try XCTUnwrap(port)
        @Sendable func scrape() throws -> String { try RawHTTPClient(port: listening).request("GET", "/metrics").text }
        @Sendable func value(_ text: String, _ series: String) -> Double {
            text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        }
        let before = try await RawHTTPClient.run { try scrape() }
        XCTAssertTrue(before.contains("# TYPE tally_jobs_finished_total counter"), before)
        try db.connect().execute("INSERT INTO jobs (queue, kind, args) SELECT 'default', 'bench.noop', '{}' FROM generate_series(1, 50)")
        try await waitUntil("the worker finished the 50 jobs") {
            try db.int("SELECT count(*) FROM jobs WHERE kind = 'bench.noop' AND state = 'completed'") == 50
        }
        try await waitUntil("the metrics count them") {
            let text = try await RawHTTPClient.run { try scrape() }
            return value(text, #"tally_jobs_finished_total{kind="bench.noop",outcome="completed"}"#) == 50
        }
        let after = try await RawHTTPClient.run { try scrape() }
        XCTAssertGreaterThanOrEqual(value(after, #"tally_jobs_claimed_total{queue="default"}"#), 50)
        XCTAssertEqual(value(after, #"tally_job_run_seconds_count{kind="bench.noop"}"#), 50)
        XCTAssertGreaterThan(value(after, "tally_completer_batch_size_count"), 0)
        XCTAssertTrue(after.contains("tally_queue_waiting_jobs{queue="), after)
        XCTAssertTrue(after.contains("# TYPE tally_queue_oldest_job_age_seconds gauge"), after)
        let missing = try await RawHTTPClient.run { try RawHTTPClient(port: listening).request("GET", "/other") }
        XCTAssertEqual(missing.status, 404)
    }
}
