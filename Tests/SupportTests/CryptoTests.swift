import Support
import XCTest

final class CryptoTests: XCTestCase {
    func testHMACSHA256MatchesRFC4231TestCase2() {
        let mac = Crypto.hmacSHA256Hex(key: "Jefe", message: Array("what do ya want for nothing?".utf8))
        XCTAssertEqual(mac, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    func testSHA256OfEmptyString() {
        XCTAssertEqual(Crypto.sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    func testConstantTimeEquals() {
        XCTAssertTrue(Crypto.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        XCTAssertFalse(Crypto.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        XCTAssertFalse(Crypto.constantTimeEquals([1, 2], [1, 2, 3]))
    }

    func testHexRoundTrip() {
        XCTAssertEqual(Crypto.unhex("00ff10Ab"), [0, 255, 16, 171])
        XCTAssertNil(Crypto.unhex("abc"))
        XCTAssertNil(Crypto.unhex("zz"))
        XCTAssertEqual(Crypto.hex([0, 255, 16, 171]), "00ff10ab")
    }
}
