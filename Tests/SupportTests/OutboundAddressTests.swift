import Foundation
import Support
import TestSupport
import XCTest

/// The address check for URLs someone else chose (notification endpoints). Tested by what it
/// refuses: no call is ever made to a private or metadata address, and nothing here resolves a
/// name over the network (numeric hosts and `localhost` are decided without a lookup).
final class OutboundAddressTests: XCTestCase {
    func testEveryNonPublicRangeIsRefusedAndPublicAddressesPass() {
        let refused = [
            "127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.1.1",
            "169.254.169.254", "169.254.1.1", "100.64.0.1", "100.127.255.255", "0.0.0.0", "224.0.0.1", "255.255.255.255",
            "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3",
            "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "fd00:ec2::254",
        ]
        for ip in refused {
            XCTAssertNotNil(OutboundAddress.restriction(of: ip), "\(ip) is refused")
        }
        XCTAssertEqual(OutboundAddress.restriction(of: "169.254.169.254"), "a cloud metadata address")
        XCTAssertEqual(OutboundAddress.restriction(of: "fd00:ec2::254"), "a unique-local (private) address",
                       "inside fc00::/7 either way: refused")
        for ip in ["8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "100.128.0.1", "192.169.0.1", "2001:4860:4860::8888",
                   "2606:4700::1111", "::ffff:8.8.8.8"] {
            XCTAssertNil(OutboundAddress.restriction(of: ip), "\(ip) is public")
        }
        XCTAssertEqual(OutboundAddress.restriction(of: "not-an-ip"), "not an IP address")
    }

    func testLoopbackHostsAreRefusedBeforeAnyCall() async throws {
        for host in ["localhost", "LocalHost", "api.localhost", "127.0.0.1", "[::1]", "10.0.0.7", "[fe80::1]", "169.254.169.254"] {
            do {
                try await OutboundAddress.check(host: host)
                XCTFail("\(host) must be refused")
            } catch let refused as OutboundAddress.Refused {
                XCTAssertTrue(refused.description.contains("only public addresses"), refused.description)
                XCTAssertTrue(refused.description.contains("TALLY_ENDPOINTS_ALLOW_PRIVATE"), "the error says how to lift it")
            }
        }
        try await OutboundAddress.check(host: "8.8.8.8")   // numeric and public: no lookup, no call
    }

    func testRedirectsAreNeverFollowed() async throws {
        let server = try FakeHTTPServer()
        defer { server.stop() }
        server.respond("POST", "/hook", status: 302, body: "", headers: ["Location": "/elsewhere"])
        server.respond("POST", "/elsewhere", status: 200, body: "{}")
        server.respond("GET", "/elsewhere", status: 200, body: "{}")
        let client = HTTPClient(service: "endpoint", baseURL: URL(string: server.baseURL)!)
        let answer = try await client.exchange(method: "POST", path: "/hook", body: Array("{}".utf8), idempotencyKey: "k")
        XCTAssertEqual(answer.status, 302, "the redirect is the answer")
        XCTAssertEqual(server.requests.map(\.path), ["/hook"], "the Location was not called")
    }
}
