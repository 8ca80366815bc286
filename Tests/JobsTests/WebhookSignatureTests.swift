import Foundation
@testable import Jobs
import Support
import XCTest

final class WebhookSignatureTests: XCTestCase {
    func testSignatureIsHMACOfTimestampDotBodyAndVerifies() {
        let secret = "whsec_test"
        let body = Array(#"{"id":1}"#.utf8)
        let header = WebhookSignature.header(secret: secret, timestamp: 1_700_000_000, body: body)
        // Independently: HMAC-SHA256("whsec_test", "1700000000.{"id":1}").
        XCTAssertEqual(header, "t=1700000000,v1=" + Crypto.hmacSHA256Hex(key: secret, message: Array("1700000000.{\"id\":1}".utf8)))
        let now = Date(timeIntervalSince1970: 1_700_000_100)
        XCTAssertTrue(WebhookSignature.verify(header: header, secret: secret, body: body, now: now))
        XCTAssertFalse(WebhookSignature.verify(header: header, secret: "whsec_other", body: body, now: now))
        XCTAssertFalse(WebhookSignature.verify(header: header, secret: secret, body: Array(#"{"id":2}"#.utf8), now: now))
        XCTAssertFalse(WebhookSignature.verify(header: header, secret: secret, body: body, now: now.addingTimeInterval(301)), "too old")
        XCTAssertFalse(WebhookSignature.verify(header: "v1=abc", secret: secret, body: body, now: now))
        XCTAssertTrue(WebhookSignature.newSecret().hasPrefix("whsec_"))
        XCTAssertEqual(WebhookSignature.newSecret().count, 6 + 64)
    }
}
