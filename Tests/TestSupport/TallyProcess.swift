import Foundation
import XCTest

/// A real `tally` process (the binary ops/test built), for tests that kill, signal or count
/// processes. Its stderr goes to a file that is printed when an assertion needs it.
public final class TallyProcess: @unchecked Sendable {
    // @unchecked: `process` is only driven from the test that owns this object.
    public let process: Process
    public let logURL: URL

    /// The binary: $TALLY_BIN (set by ops/test), else .build/debug/tally in the checkout.
    public static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["TALLY_BIN"] { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/tally")
    }

    /// Another product of the same build (`tally-dev-fakes`), beside `binary`.
    public static func sibling(_ product: String) -> URL {
        binary.deletingLastPathComponent().appendingPathComponent(product)
    }

    /// Starts `tally args…` (or `executable args…`) with `environment` added to this process's
    /// environment.
    public init(_ args: [String], environment: [String: String] = [:], executable: URL = TallyProcess.binary) throws {
        process = Process()
        process.executableURL = executable
        process.arguments = args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("tally-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process.standardError = log
        process.standardOutput = log
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: logURL)
    }

    public var pid: Int32 { process.processIdentifier }

    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for exit and returns the status; fails the test after `timeout`.
    public func waitForExit(timeout: TimeInterval = 60, file: StaticString = #filePath, line: UInt = #line) async throws -> Int32 {
        let name = process.executableURL?.lastPathComponent ?? "tally"
        try await waitUntil("\(name) \(process.arguments?.joined(separator: " ") ?? "") exits", timeout: timeout, file: file, line: line) {
            !process.isRunning
        }
        return process.terminationStatus
    }

    public var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
}

/// Runs `tally args…` to completion and returns its exit status, stdout and stderr.
public struct TallyRun {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    public static func run(_ args: [String], environment: [String: String] = [:], input: String? = nil) throws -> TallyRun {
        let p = Process()
        p.executableURL = TallyProcess.binary
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        if let input {
            let inPipe = Pipe()
            p.standardInput = inPipe
            try p.run()
            inPipe.fileHandleForWriting.write(Data(input.utf8))
            try inPipe.fileHandleForWriting.close()
        } else {
            p.standardInput = FileHandle.nullDevice
            try p.run()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return TallyRun(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}
