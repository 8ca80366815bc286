import Foundation
import Support
import XCTest

final class TimestampTests: XCTestCase {
    func testParsesPostgresAndISOForms() {
        let expected = Date(timeIntervalSince1970: 1_785_748_502.25)
        for text in ["2026-08-03T09:15:02.25Z", "2026-08-03 09:15:02.25+00", "2026-08-03T11:15:02.250+02:00", "2026-08-03T04:15:02.25-0500"] {
            XCTAssertEqual(Timestamp.parse(text)?.timeIntervalSince1970 ?? 0, expected.timeIntervalSince1970, accuracy: 1e-6, text)
        }
        XCTAssertEqual(Timestamp.parse("2026-08-03")?.timeIntervalSince1970, 1_785_715_200)
        for bad in ["2026-13-01", "2026-08-03T25:00:00Z", "yesterday", "2026-08-03T09:15:02Zjunk", "2026-08-03T09:15:02."] {
            XCTAssertNil(Timestamp.parse(bad), bad)
        }
    }

    func testFormatsUTC() {
        XCTAssertEqual(Timestamp.iso8601(Date(timeIntervalSince1970: 1_785_748_502.25)), "2026-08-03T09:15:02.250Z")
        XCTAssertEqual(Timestamp.iso8601(Date(timeIntervalSince1970: -1)), "1969-12-31T23:59:59.000Z")
    }

    func testRelativeTimesAndDurations() {
        let now = Date(timeIntervalSince1970: 1000)
        XCTAssertEqual(Timestamp.parseAt("+30s", now: now)?.timeIntervalSince1970, 1030)
        XCTAssertEqual(Timestamp.parseAt("+2h", now: now)?.timeIntervalSince1970, 8200)
        XCTAssertEqual(DurationText.parse("1h30m"), 5400)
        XCTAssertEqual(DurationText.parse("250ms"), 0.25)
        XCTAssertNil(DurationText.parse("5"))
        XCTAssertNil(DurationText.parse("m5"))
        XCTAssertEqual(DurationText.parse("0.5s"), 0.5)
        XCTAssertEqual(DurationText.parse("1.25h"), 4500)
        XCTAssertNil(DurationText.parse("1.s"))
        XCTAssertNil(DurationText.parse(".5s"))
        XCTAssertNil(DurationText.parse("1.2.3s"))
        XCTAssertEqual(DurationText.format(5400), "1h30m")
    }
}
