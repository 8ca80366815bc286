import Foundation
import Support
import XCTest

final class TimestampedSignatureTests: XCTestCase {
    func testSignatureIsHMACOfTimestampDotBodyAndVerifies() {
        let secret = "whsec_test"
        let body = Array(#"{"id":1}"#.utf8)
        let header = TimestampedSignature.header(secret: secret, timestamp: 1_700_000_000, body: body)
        // Independently: HMAC-SHA256("whsec_test", "1700000000.{"id":1}").
        XCTAssertEqual(header, "t=1700000000,v1=" + Crypto.hmacSHA256Hex(key: secret, message: Array("1700000000.{\"id\":1}".utf8)))
        let now = Date(timeIntervalSince1970: 1_700_000_100)
        XCTAssertTrue(TimestampedSignature.verify(header: header, secret: secret, body: body, now: now))
        XCTAssertFalse(TimestampedSignature.verify(header: header, secret: "whsec_other", body: body, now: now))
        XCTAssertFalse(TimestampedSignature.verify(header: header, secret: secret, body: Array(#"{"id":2}"#.utf8), now: now))
        XCTAssertFalse(TimestampedSignature.verify(header: header, secret: secret, body: body, now: now.addingTimeInterval(301)), "too old")
        XCTAssertFalse(TimestampedSignature.verify(header: "v1=abc", secret: secret, body: body, now: now))
        XCTAssertTrue(TimestampedSignature.newSecret().hasPrefix("whsec_"))
        XCTAssertEqual(TimestampedSignature.newSecret().count, 6 + 64)
    }
}
