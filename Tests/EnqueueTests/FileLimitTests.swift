import Foundation
import Support
import TestSupport
import XCTest

/// At its file limit the ingress refuses the connections it cannot hold (503) instead of
/// spinning on `accept` (EMFILE: the connection stays in the backlog and epoll reports it again
/// at once; before the reserve descriptor this took a whole core).
final class FileLimitTests: XCTestCase {
    func testAtItsFileLimitTheIngressRefusesAndDoesNotSpin() async throws {
        let db = try TestDatabase.create()
        let env = ["DATABASE_URL": db.url, "TALLY_LISTEN": "127.0.0.1:0", "TALLY_LOG_LEVEL": "info", "TALLY_INGRESS_THREADS": "1",
                   "TALLY_MAX_CONNECTIONS_PER_CLIENT": "1000"]
        let process = try TallyProcess(["-c", "ulimit -n 64 && exec \"$TALLY_BIN_PATH\" ingress"],
                                       environment: env.merging(["TALLY_BIN_PATH": TallyProcess.binary.path]) { $1 },
                                       executable: URL(fileURLWithPath: "/bin/sh"))
        defer { process.signal(SIGKILL) }
        var port: UInt16?
        try await waitUntil("the ingress listens") {
            port = process.log.split(separator: "\n").lazy.compactMap { line -> UInt16? in
                guard line.contains("ingress listening"), let r = line.range(of: "address=127.0.0.1:") else { return nil }
                return UInt16(line[r.upperBound...].prefix { $0.isNumber })
            }.first
            return port != nil
        }
        // More idle connections than descriptors: the last ones are answered 503 and closed.
        let listening = try XCTUnwrap(port)
        var clients: [StreamClient] = []
        for _ in 0..<100 { clients.append(try StreamClient(port: listening)) }
        var refused = 0
        for client in clients.suffix(30) {
            client.read(timeout: 5) { String(decoding: $0, as: UTF8.self).contains("\r\n\r\n") }
            if String(decoding: client.received, as: UTF8.self).hasPrefix("HTTP/1.1 503") { refused += 1 }
        }
        XCTAssertGreaterThan(refused, 0, "connections past the limit are refused")
        // And the ingress is idle while the kept ones wait (before: 100 % of a core).
        let before = try Self.cpuTicks(process.pid)
        let start = Date()
        try await waitUntil("a second passes") { Date().timeIntervalSince(start) >= 1 }
        let used = try Self.cpuTicks(process.pid) - before
        XCTAssertLessThan(used, 30, "CPU ticks (1/100 s) in one second at the file limit: \(used)")
        let health = try await RawHTTPClient.run { try RawHTTPClient(port: listening).request("GET", "/healthz") }
        XCTAssertTrue([200, 503].contains(health.status))
    }

    /// utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15).
    static func cpuTicks(_ pid: Int32) throws -> Int {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        guard let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }
}
