import Enqueue
import Foundation
import JobRuntime
import Jobs
import Postgres
import Support
import TestSupport
import XCTest

/// A real `tally ingress` and real `tally worker` processes on the database URLs a scale test
/// names (through PgBouncer, multi-host, a cluster it restarts), the load those tests send —
/// accounts, usage with idempotency keys, a Stripe top-up — and the check that every request
/// answered 2xx took effect exactly once. `directURL` is for the test's own checks.
final class ScaleStack: @unchecked Sendable {
    // @unchecked: set up in init, then only read; the processes are driven by the owning test.
    static let trialCredits: Int64 = 1_000

    /// Changed by a failover test to the new primary.
    var directURL: String
    let apiKey: String
    let ingress: TallyProcess
    var workers: [TallyProcess]
    let port: UInt16
    let stripe: FakeStripe

    /// `environment`: for every process (DATABASE_URL and the like); `ingressEnvironment` and
    /// `workerEnvironment` on top, for one side.
    init(directURL: String, environment: [String: String], ingressEnvironment: [String: String] = [:],
         workerEnvironment: [String: String] = [:], workers count: Int = 2) async throws {
        self.directURL = directURL
        apiKey = APIKey.generate()
        try Connection.connect(directURL).query(IngressQueries.createAPIKey, ["scale", APIKey.hash(apiKey), APIKey.displayPrefix(apiKey), "all"])
        stripe = try FakeStripe()
        var ingressEnv = environment
        ingressEnv.merge(["TALLY_LISTEN": "127.0.0.1:0", "TALLY_LOG_LEVEL": "info", "STRIPE_WEBHOOK_SECRET": IngressHarness.stripeSecret]) { _, new in new }
        ingressEnv.merge(ingressEnvironment) { _, new in new }
        ingress = try TallyProcess(["ingress"], environment: ingressEnv)
        var workerEnv = environment.merging(stripe.environment) { _, new in new }
        // No cron: its jobs (prices.refresh calling CoinGecko) are not what these tests count.
        workerEnv.merge(try JobRegistry.schedulesOff()) { _, off in off }
        workerEnv.merge(["TALLY_TRIAL_CREDITS": String(Self.trialCredits), "TALLY_BACKOFF_SCALE": "0.001",
                         "TALLY_SCHEDULER_INTERVAL": "0.2", "TALLY_LOG_LEVEL": "info"]) { _, new in new }
        workerEnv.merge(workerEnvironment) { _, new in new }
        workers = try (0..<count).map { i in try TallyProcess(["worker", "--id", "scale\(i)"], environment: workerEnv) }
        let ingress = self.ingress
        try await waitUntil("tally ingress logs its address") { ingress.loggedIngressPort != nil }
        port = ingress.loggedIngressPort ?? 0
    }

    deinit {
        ingress.signal(SIGKILL)
        for w in workers { w.signal(SIGKILL) }
    }

    /// Every process's log, for a failure message.
    var logs: String {
        "ingress:\n\(ingress.log.suffix(3000))\n" + workers.enumerated().map { "worker \($0):\n\($1.log.suffix(3000))" }.joined(separator: "\n")
    }

    /// One request on a new connection; nil when it got no answer (connection refused or cut).
    func request(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:],
                 timeout: TimeInterval = 15) async -> RawHTTPClient.Response? {
        var h = headers
        if h["Stripe-Signature"] == nil { h["Authorization"] = "Bearer \(apiKey)" }
        if body != nil { h["Content-Type"] = "application/json" }
        let port = self.port, headers = h
        return try? await RawHTTPClient.run { try RawHTTPClient(port: port, timeout: timeout).request(method, path, headers: headers, body: body) }
    }

    /// Opens the accounts (each waits for its job) until all are there.
    func openAccounts(_ users: [String]) async throws {
        for user in users {
            try await waitUntil("the account \(user) opens", timeout: 60) {
                guard let r = await request("POST", "/v1/accounts", body: #"{"user_id":"\#(user)"}"#, headers: ["Prefer": "wait=5"]) else { return false }
                return r.status == 200 || r.status == 201
            }
        }
    }

    /// A signed `checkout.session.completed` for `user` (500 credits, from the Stripe stand-in's
    /// line items, as ops/run's sample flow); true when the ingress answered 200.
    func stripeTopUp(_ user: String, id: String) async -> Bool {
        let body = #"{"id":"evt_\#(id)","object":"event","type":"checkout.session.completed","created":\#(Int(Date().timeIntervalSince1970)),"api_version":"2025-08-27.basil","data":{"object":{"id":"cs_\#(id)","object":"checkout.session","mode":"payment","payment_status":"paid","client_reference_id":"\#(user)","amount_total":1999,"currency":"usd","payment_intent":"pi_\#(id)","metadata":{"user_id":"\#(user)"}}}}"#
        let signature = IngressHarness.stripeSignature(Array(body.utf8))
        return await request("POST", "/webhooks/stripe", body: body, headers: ["Stripe-Signature": signature])?.status == 200
    }

    /// What the usage load sent: the keys answered 2xx, and every answer's status by code
    /// (0: no answer).
    struct UsageLoad: Sendable {
        var accepted: [(user: String, key: String)] = []
        var statuses: [Int: Int] = [:]
    }

    /// `count` usage requests of 1 unit, spread over `users`, `concurrency` at a time; keys
    /// `<prefix><n>`.
    /// `accepted` is called at each 2xx answer (a failover test times the gap).
    func sendUsage(_ count: Int, users: [String], prefix: String, concurrency: Int = 8,
                   accepted: @escaping @Sendable () -> Void = {}) async -> UsageLoad {
        let results = LockedBox(UsageLoad())
        
        await withTaskGroup(of: Void.self) { group in
            for lane in 0..<concurrency {
                group.addTask { [self] in
                    var n = lane
                    while n < count {
                        let user = users[n % users.count], key = "\(prefix)\(n)"
                        let r = await request("POST", "/v1/usage",
                                              body: #"{"user_id":"\#(user)","agent":"default","units":1,"idempotency_key":"\#(key)"}"#)
                        let status = r?.status ?? 0
                        if (200..<300).contains(status) { accepted() }
                        results.mutate { load in
                            load.statuses[status, default: 0] += 1
                            if (200..<300).contains(status) { load.accepted.append((user, key)) }
                        }
                        n += concurrency
                    }
                }
            }
        }
        return results.value
    }

    /// Waits until no job is left to run, then checks that every accepted usage request was
    /// applied exactly once, every balance is the trial plus its top-ups less one credit per
    /// usage entry, and `tally ledger verify` passes.
    func verifyExactlyOnce(_ load: UsageLoad, users: [String], topUps: [String: Int64] = [:], timeout: TimeInterval = 60,
                           file: StaticString = #filePath, line: UInt = #line) async throws {
        let db = try Connection.connect(directURL)
        try await waitUntil("every job finishes", timeout: timeout, file: file, line: line) {
            let left = try db.query("SELECT count(*) AS n FROM jobs WHERE state NOT IN ('completed', 'discarded', 'cancelled')").first?.int64("n")
            return left == 0
        }
        let failed = try db.query("SELECT string_agg(kind || ' ' || state::text || ' ' || errors::text, '; ') AS f FROM jobs WHERE state <> 'completed'")
            .first?.raw(at: 0)
        XCTAssertNil(failed, "every job completed\n\(logs)", file: file, line: line)
        // A replay of an accepted key is accepted again: one reference for both.
        let references = Array(Set(load.accepted.map { "usage:\($0.user):\($0.key)" }))
        let applied = try db.query("SELECT count(*) AS n FROM ledger_entries WHERE reference = ANY($1::text[])", [references])
            .first?.int64("n")
        XCTAssertEqual(applied, Int64(references.count), "each accepted usage request has its one ledger entry", file: file, line: line)
        let jobs = try db.query("SELECT count(*) AS n FROM jobs WHERE unique_key = ANY($1::text[])", [references]).first?.int64("n")
        XCTAssertEqual(jobs, Int64(references.count), "each accepted usage request has one job", file: file, line: line)
        for user in users {
            let usages = try db.query("SELECT count(*) AS n FROM ledger_entries WHERE user_id = $1 AND kind = 'usage'", [user]).first?.int64("n") ?? -1
            let expected = Self.trialCredits + (topUps[user] ?? 0) - usages
            let shown = await request("GET", "/v1/accounts/\(user)")
            XCTAssertEqual(shown?.json?["balance"]?.int64, expected, "the balance of \(user) (\(shown?.text ?? "no answer"))", file: file, line: line)
        }
        let verify = try TallyRun.run(["ledger", "verify"], environment: ["DATABASE_URL": directURL])
        XCTAssertEqual(verify.status, 0, "tally ledger verify: \(verify.stdout)\(verify.stderr)", file: file, line: line)
    }
}

extension TallyProcess {
    /// The port `tally ingress` logged at start (`address=127.0.0.1:PORT`, at TALLY_LOG_LEVEL=info).
    var loggedIngressPort: UInt16? {
        guard let line = log.split(separator: "\n").first(where: { $0.contains("ingress listening") }),
              let range = line.range(of: "address=127.0.0.1:") else { return nil }
        return UInt16(line[range.upperBound...].prefix { $0.isNumber })
    }
}
