import Dispatch
import Foundation
import Jobs
import Postgres
import Support

/// `wait_p50_ms`, `wait_p99_ms`: a `POST /v1/usage` with `Prefer: wait=5` through a running
/// `tally ingress` and two `tally worker` processes, one client at a time on a keep-alive
/// connection, timed by the client from the first byte sent to the last byte of the answer.
struct WaitBench {
    let context: BenchContext
    var calls = 1000

    func run(_ results: inout Results) throws {
        let url = try context.freshDatabase("tally_bench_wait")
        let c = try Connection.connect(url)
        let user = "bench-wait-user"
        try c.transaction { tx in
            try Ledger.openAccount(user, openedBy: .operator, on: tx)
            let book = LedgerBook(tx)
            try book.load([user])
            try book.reserveGrantIDs(1)
            try book.grant(NewGrant(userID: user, source: .adjustment, amount: 1_000_000, reference: "bench:\(user)"))
            try book.commit()
        }
        let key = try context.runTally(["apikey", "create", "bench"], databaseURL: url).split(separator: "\n").last.map(String.init) ?? ""
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tally-bench-ingress.log")
        let ingress = try context.startProcess(["ingress"], databaseURL: url, log: log,
                                               environment: ["TALLY_LISTEN": "127.0.0.1:0", "TALLY_LOG_LEVEL": "info"])
        let workers = try context.startWorkers(2, databaseURL: url, queues: "default=100", label: "wait")
        defer { context.stop(workers + [ingress]) }
        var port: UInt16 = 0
        guard try pollUntil(timeout: 30, {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            guard let r = text.range(of: "address=127.0.0.1:") else { return false }
            port = UInt16(text[r.upperBound...].prefix { $0.isNumber }) ?? 0
            return port > 0
        }) else { throw BenchError("tally ingress did not start (\(log.path))") }
        guard try pollUntil(timeout: 30, { try c.query("SELECT count(*) AS n FROM workers").first?.int("n") == 2 }) else {
            throw BenchError("the workers did not start")
        }
        let client = try BenchHTTPClient(port: port)
        var samples: [Double] = []
        for i in 0..<(calls + 50) {
            let body = #"{"user_id":"\#(user)","agent":"default","units":1,"idempotency_key":"w\#(i)"}"#
            let start = DispatchTime.now().uptimeNanoseconds
            let status = try client.post("/v1/usage", body: body, headers: ["Authorization: Bearer \(key)", "Prefer: wait=5"])
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            guard status == 200 else { throw BenchError("usage with Prefer: wait answered \(status)") }
            if i >= 50 { samples.append(ms) }  // the first 50 warm connections and plans up
        }
        samples.sort()
        for p in [50.0, 99] {
            results.add("wait_p\(Int(p))_ms", Stats.percentile(samples, p),
                        "POST /v1/usage with Prefer: wait=5 answered 200, one client at a time, \(samples.count) calls")
        }
    }
}

/// A minimal keep-alive HTTP/1.1 client for the benchmark (one request at a time).
final class BenchHTTPClient {
    private let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { throw BenchError("cannot connect to 127.0.0.1:\(port)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    /// Sends one request and reads the whole answer; returns its status.
    func post(_ path: String, body: String, headers: [String]) throws -> Int {
        try request("POST", path, body: body, headers: headers).status
    }

    /// Sends one request and reads the whole answer (Content-Length framed).
    func request(_ method: String, _ path: String, body: String = "", headers: [String] = []) throws -> (status: Int, body: [UInt8]) {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: bench\r\n"
        if method != "GET" { request += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        for h in headers { request += h + "\r\n" }
        request += "\r\n" + body
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw BenchError("send failed") }
            sent += n
        }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else { throw BenchError("the ingress closed the connection") }
            buffer += chunk[0..<n]
            guard let end = buffer.firstRange(of: Array("\r\n\r\n".utf8)) else { continue }
            let head = String(decoding: buffer[..<end.lowerBound], as: UTF8.self).lowercased()
            let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            if buffer.count >= end.upperBound + length {
                let statusLine = head.split(separator: " ")
                return (statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0, Array(buffer[end.upperBound..<(end.upperBound + length)]))
            }
        }
    }
}
