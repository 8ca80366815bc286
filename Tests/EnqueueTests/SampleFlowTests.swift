import Foundation
import Support
import TestSupport
import XCTest

/// ops/run's sample flow (ops/lib/sample-flow.sh), run as ops/run runs it: the real
/// `tally-dev-fakes` stand-ins, a real `tally worker` pointed at them, an ingress, and the
/// script itself (issue 10, item 8: a first run shows every flow working).
final class SampleFlowTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testTheSampleFlowShowsEveryFlowWorkingWithTheStandIns() async throws {
        let h = try IngressHarness()
        let envFile = FileManager.default.temporaryDirectory.appendingPathComponent("dev-fakes-\(UUID().uuidString).env")
        defer { try? FileManager.default.removeItem(at: envFile) }
        let fakes = try TallyProcess(["--fixtures", Fixture.directory.path, "--env-file", envFile.path],
                                     executable: TallyProcess.sibling("tally-dev-fakes"))
        try await waitUntil("the stand-ins write their settings") { FileManager.default.fileExists(atPath: envFile.path) }
        var settings: [String: String] = [:]
        for line in try String(contentsOf: envFile, encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#") {
            let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { settings[kv[0]] = kv[1] }
        }
        XCTAssertEqual(Set(settings.keys), ["COINGECKO_BASE_URL", "BITGO_BASE_URL", "BITGO_ACCESS_TOKEN", "BITGO_WALLET_BTC",
                                            "BITGO_WALLET_ETH", "STRIPE_API_BASE", "STRIPE_SECRET_KEY"])
        XCTAssertTrue(settings.values.filter { $0.hasPrefix("http") }.allSatisfy { $0.hasPrefix("http://127.0.0.1:") }, "\(settings)")

        var workerEnv = settings
        workerEnv["DATABASE_URL"] = h.db.url
        let worker = try TallyProcess(["worker", "--id", "sample"], environment: workerEnv)
        defer { worker.signal(SIGKILL) }

        var scriptEnv = settings
        scriptEnv["DATABASE_URL"] = h.db.url
        scriptEnv["TALLY_LISTEN"] = "127.0.0.1:\(h.port)"
        scriptEnv["STRIPE_WEBHOOK_SECRET"] = IngressHarness.stripeSecret
        scriptEnv["BITGO_WEBHOOK_SECRET"] = IngressHarness.bitgoSecret
        let flow = Process()
        flow.executableURL = URL(fileURLWithPath: "/bin/bash")
        flow.arguments = [Self.root.appendingPathComponent("ops/lib/sample-flow.sh").path, TallyProcess.binary.path]
        flow.environment = ProcessInfo.processInfo.environment.merging(scriptEnv) { _, new in new }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("sample-flow-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let log = try FileHandle(forWritingTo: output)
        flow.standardOutput = log
        flow.standardError = log
        try flow.run()
        // Each step waits at most 10 s for its job; the whole flow takes a second or two.
        try await waitUntil("the sample flow ends", timeout: 90) { !flow.isRunning }
        let text = try String(contentsOf: output, encoding: .utf8)
        XCTAssertEqual(flow.terminationStatus, 0, "\(text)\nworker: \(worker.log)")

        // The key is on the line after the one announcing it (it was an empty line).
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let announced = try XCTUnwrap(lines.firstIndex { $0.contains("it is shown once, on the next line:") }, text)
        XCTAssertTrue(lines[announced + 1].hasPrefix("tally_") && !lines[announced + 1].contains(" "), lines[announced + 1])
        for step in ["1. open the account", "2. a signed Stripe checkout", "3. usage of 7 units", "4. a crypto purchase",
                     "5. the user pays", "purchase status: confirming", "6. three confirmations", "7. the account", "8. the queue"] {
            XCTAssertTrue(text.contains(step), "\(step) in: \(text)")
        }
        let user = try XCTUnwrap(text.components(separatedBy: "Sample flow for user ").dropFirst().first?.prefix { $0 != "\n" })
        let c = try h.db.connect()
        XCTAssertEqual(try c.query("SELECT kind, amount FROM ledger_entries WHERE user_id = $1 ORDER BY id", [String(user)])
                        .map { "\(try $0.string("kind")) \(try $0.int64("amount"))" },
                       ["trial 5", "topup 500", "usage -7", "crypto 500"], "the Stripe credits came from the stand-in's line items")
        XCTAssertEqual(try h.db.scalar("SELECT status FROM crypto_purchases WHERE user_id = $1", [String(user)]), "paid")
        let failed = try h.db.scalar("SELECT string_agg(kind || ' ' || errors::text, '; ') FROM jobs WHERE state IN ('discarded', 'retryable')")
        XCTAssertNil(failed, "nothing failed")
        // prices.refresh ran as the worker started (the latest cron occurrence) and completed.
        try await waitUntil("prices.refresh completed") {
            try h.db.int("SELECT count(*) FROM jobs WHERE kind = 'prices.refresh' AND state = 'completed'") >= 1
        }
        fakes.signal(SIGTERM)
        let fakesStatus = try await fakes.waitForExit(timeout: 10)
        XCTAssertEqual(fakesStatus, 0, fakes.log)
        XCTAssertTrue(fakes.log.contains("tally-dev-fakes: coingecko GET /api/v3/simple/price"), fakes.log)
    }
}
