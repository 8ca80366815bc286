import Enqueue
import Foundation
import Postgres
import Support
import TestSupport
import XCTest

/// An in-process ingress on an ephemeral port over its own test database, with an API key.
final class IngressHarness: @unchecked Sendable {
    // @unchecked: immutable after init; the ingress and the database are thread-safe.
    static let stripeSecret = "whsec_test_secret_0123456789"
    static let bitgoSecret = "bitgo_test_secret"

    let db: TestDatabase
    let ingress: Ingress
    let apiKey: String
    var port: UInt16 { ingress.port }

    init(environment: [String: String] = [:], database: TestDatabase? = nil) throws {
        db = try database ?? TestDatabase.create()
        apiKey = APIKey.generate()
        try db.connect().query(IngressQueries.createAPIKey, ["test", APIKey.hash(apiKey), APIKey.displayPrefix(apiKey), "all"])
        var env = ["DATABASE_URL": db.url, "TALLY_LISTEN": "127.0.0.1:0", "STRIPE_WEBHOOK_SECRET": Self.stripeSecret,
                   "BITGO_WEBHOOK_SECRET": Self.bitgoSecret]
        for (k, v) in environment { env[k] = v }
        ingress = try Ingress(config: IngressConfig.from(Environment(env.filter { !$0.value.isEmpty })))
        ingress.start()
    }

    deinit { ingress.stop() }

    func client(timeout: TimeInterval = 10) throws -> RawHTTPClient { try RawHTTPClient(port: port, timeout: timeout) }

    /// One request on a new connection; `auth` adds the API key.
    func request(_ method: String, _ path: String, json body: String? = nil, headers: [String: String] = [:], auth: Bool = true) throws -> RawHTTPClient.Response {
        var h = headers
        if auth { h["Authorization"] = "Bearer \(apiKey)" }
        if body != nil { h["Content-Type"] = "application/json" }
        return try client().request(method, path, headers: h, body: body)
    }

    func post(_ path: String, _ body: String, headers: [String: String] = [:]) throws -> RawHTTPClient.Response {
        try request("POST", path, json: body, headers: headers)
    }

    /// The same, off the cooperative pool, for async tests.
    func postAsync(_ path: String, _ body: String, headers: [String: String] = [:]) async throws -> RawHTTPClient.Response {
        try await RawHTTPClient.run { [self] in try post(path, body, headers: headers) }
    }

    func jobCount(_ kind: String? = nil) throws -> Int64 {
        if let kind { return try db.int("SELECT count(*) FROM jobs WHERE kind = $1", [kind]) }
        return try db.int("SELECT count(*) FROM jobs")
    }

    /// `Stripe-Signature` for `body` as Stripe makes it.
    static func stripeSignature(_ body: [UInt8], secret: String = stripeSecret, timestamp: Int = Int(Date().timeIntervalSince1970)) -> String {
        "t=\(timestamp),v1=\(Crypto.hmacSHA256Hex(key: secret, message: Array("\(timestamp).".utf8) + body))"
    }

    /// What a worker does when a job it ran finishes: the state, the result and the
    /// notification a waiting request listens for, in one transaction.
    func finishJob(_ id: Int64, state: String = "completed", result: String) throws {
        try db.connect().transaction { tx in
            try tx.query("UPDATE jobs SET state = $2::job_state, result = $3::jsonb, finished_at = now() WHERE id = $1", [id, state, result])
            try tx.query("SELECT pg_notify('tally_job_finished', $1)", ["\(id):\(state)"])
        }
    }
}

/// The Stripe event fixtures (Tests/Fixtures/stripe), as the bytes Stripe would send.
enum Fixtures {
    static func stripeEvents() throws -> [(name: String, body: [UInt8])] {
        let dir = Fixture.url("stripe")
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix("api.") }
            .map { ($0, try Fixture.bytes("stripe/" + $0)) }
    }
}
