import Console
import Foundation
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// A console in this process on a fresh database (port 0, 127.0.0.1), an operator, and a
/// client that keeps the session cookie and reads each page's CSRF token, as a browser would.
final class ConsoleHarness: @unchecked Sendable {
    // @unchecked: immutable after init; each harness belongs to the one test that made it.
    let db: TestDatabase
    let console: Console
    var port: UInt16 { console.port }

    init(environment: [String: String] = [:]) throws {
        db = try TestDatabase.create()
        var env = ["DATABASE_URL": db.url, "TALLY_CONSOLE_LISTEN": "127.0.0.1:0"]
        for (k, v) in environment { env[k] = v }
        console = try Console(config: try ConsoleConfig.from(Environment(env)))
        console.start()
    }

    deinit { console.stop() }

    /// A new operator's token.
    func createOperator(_ name: String) throws -> String {
        try Operators.create(name: name, on: try db.connect()).token
    }

    /// An enqueued job moved to `state` (discarded jobs with an error, as a worker leaves them).
    func job(kind: String = "test.fail", queue: String = "default", state: JobState, args: JSON = [:]) throws -> Int64 {
        let c = try db.connect()
        let id = try Enqueuer().enqueue(NewJob(kind: kind, args: args, queue: queue), on: c).id
        if state != .available {
            try c.query(Query(adHoc: """
                UPDATE jobs SET state = $2::job_state, attempt = 1, max_attempts = 1, attempted_at = now(),
                    finished_at = CASE WHEN $2 IN ('completed', 'discarded', 'cancelled') THEN now() END,
                    errors = CASE WHEN $2 = 'discarded' THEN '[{"at": "2026-12-07T10:00:00Z", "attempt": 1, "message": "boom"}]'::jsonb ELSE errors END
                WHERE id = $1
                """), [id, state.rawValue])
        }
        return id
    }

    func state(_ id: Int64) throws -> String? { try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [id]) }

    func audit() throws -> [Audit.Entry] { try Audit.list(since: nil, actor: nil, limit: 100, on: try db.connect()) }

    /// Signs in with `token` and returns the signed-in client.
    func signIn(_ token: String) async throws -> ConsoleClient {
        let client = ConsoleClient(port: port)
        let (status, _) = try await client.signIn(token)
        XCTAssertEqual(status, 303, "sign-in with a good token redirects")
        XCTAssertNotNil(client.cookies["tally_console_session"])
        return client
    }
}

/// A cookie-keeping client for the console (one request per connection).
final class ConsoleClient: @unchecked Sendable {
    // @unchecked: used by one test at a time, from one task.
    let port: UInt16
    var cookies: [String: String] = [:]
    /// The CSRF token of the last page that had a form.
    var csrf: String?

    init(port: UInt16) { self.port = port }

    @discardableResult
    func get(_ path: String) async throws -> RawHTTPClient.Response {
        try await send("GET", path, body: nil)
    }

    /// Posts `form` (urlencoded); `csrf: true` adds the session's token as a form would.
    @discardableResult
    func post(_ path: String, _ form: [String: String] = [:], csrf withToken: Bool = true) async throws -> RawHTTPClient.Response {
        var fields = form
        if withToken, let csrf { fields["csrf"] = csrf }
        let body = fields.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.encode($0.value))" }.joined(separator: "&")
        return try await send("POST", path, body: body)
    }

    func signIn(_ token: String) async throws -> (Int, RawHTTPClient.Response) {
        let page = try await get("/sign-in")
        XCTAssertEqual(page.status, 200)
        let r = try await post("/sign-in", ["token": token])
        return (r.status, r)
    }

    private func send(_ method: String, _ path: String, body: String?) async throws -> RawHTTPClient.Response {
        var headers: [String: String] = [:]
        if !cookies.isEmpty { headers["Cookie"] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        if body != nil { headers["Content-Type"] = "application/x-www-form-urlencoded" }
        let port = self.port, sent = headers
        let response = try await RawHTTPClient.run { try RawHTTPClient(port: port).request(method, path, headers: sent, body: body) }
        if let set = response.headers["set-cookie"], let pair = set.split(separator: ";").first {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if kv.count == 2 {
                if kv[1].isEmpty || set.contains("Max-Age=0") { cookies[String(kv[0])] = nil } else { cookies[String(kv[0])] = String(kv[1]) }
            }
        }
        if let range = response.text.range(of: #"name="csrf" value="([0-9a-f]{64})""#, options: .regularExpression) {
            csrf = String(response.text[range].dropLast().suffix(64))
        }
        return response
    }

    static func encode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s
    }
}
