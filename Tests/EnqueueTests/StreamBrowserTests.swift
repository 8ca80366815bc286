import Enqueue
import Foundation
import Postgres
import Support
import TestSupport
import XCTest

/// The stream in a real browser (Debian's chromium, headless, driven over DevTools): a page on
/// an allowed origin opens an `EventSource`, receives the snapshot and a `balance_update` after
/// a usage charge made by a real worker process, and after the ingress is restarted reconnects
/// by itself (EventSource resends `Last-Event-ID`) and receives what happened meanwhile, once.
final class StreamBrowserTests: XCTestCase {
    func testAnEventSourceInChromiumGetsEveryChangeAcrossAnIngressRestart() async throws {
        let db = try TestDatabase.create()
        let env = ["DATABASE_URL": db.url]
        try db.connect().execute("INSERT INTO accounts (user_id, opened_by) VALUES ('u1', 'operator')")
        XCTAssertEqual(try TallyRun.run(["grant", "u1", "100", "--reason", "test", "--actor", "t"], environment: env).status, 0)
        let apiKey = APIKey.generate()
        try db.connect().query(IngressQueries.createAPIKey, ["test", APIKey.hash(apiKey), APIKey.displayPrefix(apiKey), "all"])

        let page = try FakeHTTPServer()
        defer { page.stop() }
        func ingress(port: UInt16) throws -> Ingress {
            let config = try IngressConfig.from(Environment(["DATABASE_URL": db.url, "TALLY_LISTEN": "127.0.0.1:\(port)",
                                                             "TALLY_CORS_ORIGINS": page.baseURL]))
            let ingress = try Ingress(config: config)
            ingress.start()
            return ingress
        }
        var first: Ingress? = try ingress(port: 0)
        let port = try XCTUnwrap(first?.port)
        let api = { @Sendable (method: String, path: String, body: String?) throws -> RawHTTPClient.Response in
            try RawHTTPClient(port: port).request(method, path, headers: ["Authorization": "Bearer \(apiKey)", "Content-Type": "application/json"],
                                                  body: body)
        }
        let token = try XCTUnwrap(try api("POST", "/v1/accounts/u1/stream-tokens", "{}").json?["token"]?.string)
        page.respond("GET", "/", body: """
            <!doctype html><title>wallet</title><script>
            window.received = [];
            const es = new EventSource("http://127.0.0.1:\(port)/v1/stream?token=\(token)");
            for (const name of ["snapshot", "balance_update", "reset"]) {
              es.addEventListener(name, e => received.push({name, id: e.lastEventId, data: JSON.parse(e.data)}));
            }
            es.onerror = () => received.push({name: "error", state: es.readyState});
            </script>
            """, headers: ["Content-Type": "text/html; charset=utf-8"])

        let browser = try Browser()
        try browser.navigate(page.baseURL + "/")
        func received() throws -> [JSON] { try browser.evaluate("window.received || []").array ?? [] }
        func events(_ name: String) throws -> [JSON] { try received().filter { $0["name"]?.string == name } }
        try await waitUntil("the page has the snapshot") { try events("snapshot").count == 1 }
        XCTAssertEqual(try events("snapshot").first?["data"]?["balance"]?.int64, 100)
        XCTAssertEqual(try events("snapshot").first?["id"], "1")

        // A usage charge through the ingress, applied by a real worker process.
        let worker = try TallyProcess(["worker", "--queues", "default=2"], environment: env)
        defer { worker.signal(SIGKILL) }
        let charge = try await RawHTTPClient.run { try api("POST", "/v1/usage", #"{"user_id":"u1","agent":"default","units":3,"idempotency_key":"k1"}"#) }
        XCTAssertEqual(charge.status, 202, charge.text)
        try await waitUntil("the page shows the charge", timeout: 30) { try events("balance_update").count == 1 }
        XCTAssertEqual(try events("balance_update").first?["data"]?["payload"]?["balance"]?.int64, 97)

        // The ingress goes away; two changes happen; a new ingress on the same port. The page
        // reconnects by itself and receives exactly the two it missed.
        first?.stop()
        first = nil
        try await waitUntil("the page saw the disconnect") { try events("error").count >= 1 }
        for credits in ["5", "7"] {
            XCTAssertEqual(try TallyRun.run(["grant", "u1", credits, "--reason", "test", "--actor", "t"], environment: env).status, 0)
        }
        let second = try ingress(port: port)
        defer { second.stop() }
        try await waitUntil("the page caught up", timeout: 30) { try events("balance_update").count >= 3 }
        let updates = try events("balance_update")
        XCTAssertEqual(updates.map { $0["id"]?.string ?? "" }, ["2", "3", "4"], "every change once, in order")
        XCTAssertEqual(updates.last?["data"]?["payload"]?["balance"]?.int64, 109)
        XCTAssertEqual(try events("snapshot").count, 1, "the reconnect resumed from its last id: no second snapshot")
        XCTAssertEqual(try events("reset").count, 0)
    }
}
