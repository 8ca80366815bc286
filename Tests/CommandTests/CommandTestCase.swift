import Foundation
import Support
import TestSupport
import XCTest

/// Runs the real `tally` binary against a test database.
class CommandTestCase: XCTestCase {
    var db: TestDatabase!

    override func setUpWithError() throws {
        db = try TestDatabase.create()
    }

    override func tearDown() {
        db?.drop()
        db = nil
    }

    @discardableResult
    func tally(_ args: String..., env: [String: String] = [:], expect status: Int32 = 0, file: StaticString = #filePath, line: UInt = #line) throws -> TallyRun {
        var environment = ["DATABASE_URL": db.url]
        for (k, v) in env { environment[k] = v }
        let run = try TallyRun.run(args, environment: environment)
        XCTAssertEqual(run.status, status, "tally \(args.joined(separator: " ")): stdout \(run.stdout) stderr \(run.stderr)", file: file, line: line)
        return run
    }

    /// Runs with --json and parses stdout.
    func json(_ args: String..., expect status: Int32 = 0, file: StaticString = #filePath, line: UInt = #line) throws -> JSON {
        let run = try TallyRun.run(args + ["--json"], environment: ["DATABASE_URL": db.url])
        XCTAssertEqual(run.status, status, "tally \(args.joined(separator: " ")) --json: \(run.stderr)", file: file, line: line)
        do { return try JSON.parse(run.stdout) } catch {
            XCTFail("not JSON: \(run.stdout)", file: file, line: line)
            throw error
        }
    }
}
