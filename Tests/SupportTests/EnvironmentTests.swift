import Foundation
import Support
import XCTest

/// Checked settings: a value that cannot be used is an error naming the setting and what it
/// must be; unset is the default.
final class EnvironmentTests: XCTestCase {
    func testCheckedDurationsParseOrRefuseNamingTheSetting() throws {
        let env = Environment(["A": "90s", "B": "2", "C": "soon", "D": "-5s"])
        XCTAssertEqual(try env.checkedDuration("A", default: 1), 90)
        XCTAssertEqual(try env.checkedDuration("B", default: 1), 2)
        XCTAssertEqual(try env.checkedDuration("UNSET", default: 7), 7)
        for name in ["C", "D"] {
            XCTAssertThrowsError(try env.checkedDuration(name, default: 1)) { error in
                XCTAssertEqual((error as? ConfigurationError)?.setting, name)
                XCTAssertTrue("\(error)".contains("\(name)=") && "\(error)".contains("a duration"), "\(error)")
            }
        }
    }

    func testCheckedIntsStayInTheirRange() throws {
        let env = Environment(["N": "12", "BIG": "99999999999999999999", "NEG": "-1", "WORD": "ten"])
        XCTAssertEqual(try env.checkedInt("N", default: 1, in: 0...100), 12)
        XCTAssertEqual(try env.checkedInt("UNSET", default: 5, in: 0...100), 5)
        XCTAssertNil(try env.checkedInt("UNSET", in: 0...100))
        for name in ["BIG", "NEG", "WORD"] {
            XCTAssertThrowsError(try env.checkedInt(name, default: 1, in: 0...100)) { error in
                XCTAssertTrue("\(error)".hasPrefix("\(name)=") && "\(error)".contains("from 0 to 100"), "\(error)")
            }
        }
    }
}
