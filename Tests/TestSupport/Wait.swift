import Foundation
import XCTest

/// Waits until `condition` holds, checking every few milliseconds, failing the test at the
/// deadline. The way tests wait for something to happen: never a bare sleep.
public func waitUntil(_ description: String, timeout: TimeInterval = 30, file: StaticString = #filePath, line: UInt = #line,
                      _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try await condition() { return }
        if Date() > deadline {
            XCTFail("timed out after \(timeout)s waiting until \(description)", file: file, line: line)
            throw WaitTimeout(description: description)
        }
        try await Task.sleep(for: .milliseconds(10))  // poll interval until the deadline
    }
}

public struct WaitTimeout: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// `waitUntil` for code without an async context.
public func waitUntilSync(timeout: TimeInterval = 10, file: StaticString = #filePath, line: UInt = #line, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while try !condition() {
        if Date() > deadline {
            XCTFail("timed out after \(timeout)s waiting for a condition", file: file, line: line)
            throw WaitTimeout(description: "condition not met in \(timeout)s")
        }
        usleep(5_000)  // poll interval until the deadline
    }
}
