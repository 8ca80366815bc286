import Foundation
import Support
import TestSupport
import XCTest

/// The outbound HTTP client against the fake server on 127.0.0.1.
final class HTTPClientTests: XCTestCase {
    func testGetSendsQueryAndCredentialAndParsesExactJSON() async throws {
        let server = try FakeHTTPServer()
        defer { server.stop() }
        server.respond("GET", "/v1/things/th_1", body: #"{"amount": 123456789012345678901234567890, "ok": true}"#)
        let client = HTTPClient(service: "Stripe", baseURL: URL(string: server.baseURL)!, headers: ["Authorization": "Bearer sk_test_secret"])
        let json = try await client.getJSON("/v1/things/th_1", query: [("expand[]", "data.price"), ("q", "a b&c")])
        XCTAssertEqual(json["amount"]?.numberText, "123456789012345678901234567890", "numbers stay exact text")
        let request = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(request.method, "GET")
        XCTAssertEqual(request.query, "expand%5B%5D=data.price&q=a%20b%26c")
        XCTAssertEqual(request.headers["authorization"], "Bearer sk_test_secret")
        XCTAssertNil(request.headers["idempotency-key"])
    }

    func testEveryPostCarriesAnIdempotencyKey() async throws {
        let server = try FakeHTTPServer()
        defer { server.stop() }
        server.respond("POST", "/api/v2/btc/wallet/w1/address", body: #"{"address":"bc1q"}"#)
        let client = HTTPClient(service: "BitGo", baseURL: URL(string: server.baseURL + "/")!)
        let json = try await client.postJSON("/api/v2/btc/wallet/w1/address", body: ["label": "p1"], idempotencyKey: "quote:p1")
        XCTAssertEqual(json["address"]?.string, "bc1q")
        let request = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(request.path, "/api/v2/btc/wallet/w1/address", "a base URL ending in / does not double the slash")
        XCTAssertEqual(request.headers["idempotency-key"], "quote:p1")
        XCTAssertEqual(request.headers["content-type"], "application/json")
        XCTAssertEqual(try JSON.parse(request.bodyText)["label"]?.string, "p1")
        do {
            _ = try await client.send(method: "POST", path: "/api/v2/btc/wallet/w1/address", body: [])
            XCTFail("a POST without an idempotency key is refused")
        } catch let error as HTTPError {
            XCTAssertTrue(error.description.contains("idempotency key"))
        }
        XCTAssertEqual(server.requests.count, 1, "and nothing was sent")
    }

    func testErrorsNameServicePathAndStatusButNeverSecrets() async throws {
        let server = try FakeHTTPServer()
        defer { server.stop() }
        server.respond("GET", "/v1/checkout/sessions/cs_x/line_items", sequence: [
            .init(status: 404, body: #"{"error":{"message":"No such checkout.session: cs_x"}}"#),
            .init(status: 503, body: "busy"),
        ])
        let client = HTTPClient(service: "Stripe", baseURL: URL(string: server.baseURL)!, headers: ["Authorization": "Bearer sk_live_topsecret"])
        for expected in [404, 503] {
            do {
                _ = try await client.getJSON("/v1/checkout/sessions/cs_x/line_items", query: [("token", "querysecret")])
                XCTFail("\(expected) is an error")
            } catch let error as HTTPError {
                XCTAssertEqual(error.status, expected)
                XCTAssertEqual(error.isRetryable, expected == 503)
                XCTAssertTrue(error.description.hasPrefix("Stripe GET /v1/checkout/sessions/cs_x/line_items answered \(expected)"), error.description)
                XCTAssertFalse(error.description.contains("topsecret"))
                XCTAssertFalse(error.description.contains("querysecret"))
            }
        }
        XCTAssertTrue(server.requests.count == 2)
    }

    func testTimeoutsAndRefusedConnectionsAreRetryableErrors() async throws {
        let server = try FakeHTTPServer()
        defer { server.stop() }
        server.respond("GET", "/slow", sequence: [.init(status: 200, body: "{}", delay: 3)])
        let client = HTTPClient(service: "CoinGecko", baseURL: URL(string: server.baseURL)!, connectTimeout: 10, totalTimeout: 0.5)
        let start = Date()
        do {
            _ = try await client.getJSON("/slow")
            XCTFail("timed out")
        } catch let error as HTTPError {
            XCTAssertNil(error.status)
            XCTAssertTrue(error.timedOut)
            XCTAssertTrue(error.isRetryable)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.5, "cut at the total timeout, not when the server answered")

        let closed = try FakeHTTPServer()
        let deadPort = closed.port
        closed.stop()
        try await waitUntil("the port is closed") { !Self.accepts(port: deadPort) }
        let refused = HTTPClient(service: "BitGo", baseURL: URL(string: "http://127.0.0.1:\(deadPort)")!, connectTimeout: 2, totalTimeout: 5)
        do {
            _ = try await refused.getJSON("/api/v2/ping")
            XCTFail("nothing listens")
        } catch let error as HTTPError {
            XCTAssertNil(error.status)
            XCTAssertTrue(error.isRetryable)
            XCTAssertTrue(error.description.hasPrefix("BitGo GET /api/v2/ping failed"), error.description)
        }
    }

    func testSettingsComeFromTheEnvironmentAndAMissingOneIsNamed() throws {
        let env = Environment(["STRIPE_API_BASE": "http://127.0.0.1:9"])
        XCTAssertThrowsError(try HTTPClient.fromEnvironment(env, service: "Stripe", baseSetting: "STRIPE_API_BASE", defaultBase: "https://api.stripe.com",
                                                            credentialSetting: "STRIPE_SECRET_KEY", purpose: "reading line items")) {
            XCTAssertTrue(String(describing: $0).contains("STRIPE_SECRET_KEY"))
        }
        let client = try HTTPClient.fromEnvironment(Environment(["STRIPE_SECRET_KEY": "sk"]), service: "Stripe", baseSetting: "STRIPE_API_BASE",
                                                    defaultBase: "https://api.stripe.com", credentialSetting: "STRIPE_SECRET_KEY", purpose: "x")
        XCTAssertEqual(client.baseURL.absoluteString, "https://api.stripe.com")
        XCTAssertThrowsError(try HTTPClient.fromEnvironment(Environment(["BITGO_BASE_URL": "not a url"]), service: "BitGo", baseSetting: "BITGO_BASE_URL",
                                                            defaultBase: nil, credentialSetting: nil, purpose: "y")) {
            XCTAssertTrue(String(describing: $0).contains("BITGO_BASE_URL"))
        }
    }

    static func accepts(port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
