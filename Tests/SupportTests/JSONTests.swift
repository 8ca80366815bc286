import Support
import XCTest

final class JSONTests: XCTestCase {
    func testParsesNumbersAsTheirText() throws {
        let json = try JSON.parse(#"{"usd": 63968.123456789, "wei": 123456789012345678901234567890, "n": -5}"#)
        XCTAssertEqual(json["usd"]?.numberText, "63968.123456789")
        XCTAssertEqual(json["wei"]?.numberText, "123456789012345678901234567890")
        XCTAssertNil(json["wei"]?.int64, "too large for Int64: must not be rounded")
        XCTAssertEqual(json["n"]?.int64, -5)
        XCTAssertNil(try JSON.parse("1.0").int64, "a fraction is not an integer amount")
    }

    func testRejectsMalformedInput() {
        let bad = ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"\\x\"", "\"a", "tru", "{} x", "\"\u{01}\"",
                   "\"\\ud800\"", "[" + String(repeating: "[", count: 200) + String(repeating: "]", count: 201)]
        for text in bad {
            XCTAssertThrowsError(try JSON.parse(text), "should refuse \(text.prefix(20))")
        }
        XCTAssertThrowsError(try JSON.parse([0x22, 0xFF, 0xFE, 0x22]), "invalid UTF-8")
    }

    func testRoundTripsEscapesAndUnicode() throws {
        let text = #"{"a":"x\"y\\z\n\u00e9\ud83d\ude00","b":[true,false,null],"c":{}}"#
        let json = try JSON.parse(text)
        XCTAssertEqual(json["a"]?.string, "x\"y\\z\né😀")
        XCTAssertEqual(try JSON.parse(json.serialized), json)
        XCTAssertEqual(json.serialized, #"{"a":"x\"y\\z\né😀","b":[true,false,null],"c":{}}"#)
    }

    func testSerialisationSortsKeys() {
        let json: JSON = ["b": 1, "a": ["z": "1", "y": .null]]
        XCTAssertEqual(json.serialized, #"{"a":{"y":null,"z":"1"},"b":1}"#)
    }
}
