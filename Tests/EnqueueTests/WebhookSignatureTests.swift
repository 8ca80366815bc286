import Enqueue
import Foundation
import Support
import XCTest

/// `WebhookSignature.verifyStripe` on its own: the timestamp's tolerance, both ways.
final class WebhookSignatureTests: XCTestCase {
    let secret = "whsec_unit_0123456789"
    let body = Array(#"{"id":"evt_unit","type":"charge.refunded","created":1756300000}"#.utf8)
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func verify(_ t: Int64) throws(APIError) {
        let header = TimestampedSignature.header(secret: secret, timestamp: t, body: body)
        try WebhookSignature.verifyStripe(header: header, body: body, secrets: [secret], now: now)
    }

    func refusal(_ t: Int64, file: StaticString = #filePath, line: UInt = #line) -> APIError? {
        do { try verify(t) } catch { return error }
        XCTFail("t = \(t) was accepted", file: file, line: line)
        return nil
    }

    func testATimestampTooFarAheadIsRefusedLikeOneTooOld() throws {
        let t = Int64(now.timeIntervalSince1970)
        let ahead = try XCTUnwrap(refusal(t + 600))
        XCTAssertEqual(ahead.status, 400)
        XCTAssertEqual(ahead.code, "invalid_signature")
        XCTAssertTrue(ahead.message.contains("out of tolerance"), ahead.message)
        XCTAssertTrue(ahead.message.contains("600 s ahead of this server's clock (tolerance 300 s"), ahead.message)
        let behind = try XCTUnwrap(refusal(t - 600))
        XCTAssertEqual(behind.code, "invalid_signature")
        XCTAssertTrue(behind.message.contains("out of tolerance: 600 s behind"), behind.message)
        XCTAssertNotNil(refusal(t + 301))
        XCTAssertNotNil(refusal(Int64.max), "any Int64 is refused, none traps")
        XCTAssertNotNil(refusal(Int64.min))

        XCTAssertNoThrow(try verify(t + 100), "a clock a little ahead is fine")
        XCTAssertNoThrow(try verify(t + 300), "the edge is inside")
        XCTAssertNoThrow(try verify(t - 300))
        XCTAssertNoThrow(try verify(t))
    }
}
