import Foundation
import Support
#if canImport(Glibc)
import Glibc
#endif

/// A real browser for tests: Debian's `chromium`, headless, driven over its DevTools protocol
/// (a WebSocket on 127.0.0.1; JSON commands `Page.navigate`, `Runtime.evaluate`). `ops/test`
/// installs chromium when it is missing.
public final class Browser {
    public struct Failure: Error, CustomStringConvertible { public let description: String }

    private let process: Process
    private let profile: URL
    private let socket: StreamClient
    private var nextID = 1

    /// Starts chromium with an empty profile and connects to its one page.
    public init() throws {
        guard let executable = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Failure(description: "chromium is not installed (ops/test installs it: apt-get install --no-upgrade chromium)")
        }
        profile = FileManager.default.temporaryDirectory.appendingPathComponent("tally-chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        // --no-sandbox: tests may run as root, where chromium refuses its sandbox.
        process.arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--user-data-dir=\(profile.path)", "about:blank"]
        let log = profile.appendingPathComponent("chromium.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: log)
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
        // Chromium writes the port it picked to DevToolsActivePort in the profile.
        let portFile = profile.appendingPathComponent("DevToolsActivePort")
        var port: UInt16?
        let deadline = Date().addingTimeInterval(30)
        while port == nil && Date() < deadline && process.isRunning {
            port = (try? String(contentsOf: portFile, encoding: .utf8))?.split(separator: "\n").first.flatMap { UInt16($0) }
            if port == nil { _ = poll(nil, 0, 50) }   // the file appears once chromium listens: look again in 50 ms
        }
        guard let port else {
            let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw Failure(description: "chromium did not say its DevTools port (running: \(process.isRunning)): \(output.suffix(2000))")
        }
        var pagePath: String?
        try waitUntilSync(timeout: 30) {
            let pages = (try? Self.pages(port: port)) ?? []
            if let url = pages.first?["webSocketDebuggerUrl"]?.string, let r = url.range(of: "/devtools/") {
                pagePath = String(url[r.lowerBound...])
            }
            return pagePath != nil
        }
        guard let pagePath else { throw Failure(description: "chromium has no page") }
        socket = try StreamClient(port: port)
        try socket.send("GET \(pagePath) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let head = try socket.readHead()
        guard head.status == 101 else { throw Failure(description: "DevTools handshake answered \(head.status)") }
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: profile)
    }

    /// The browser's pages (`GET /json/list`; DevTools wants a Host that is an IP address).
    static func pages(port: UInt16) throws -> [JSON] {
        let client = try StreamClient(port: port)
        try client.send("GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n")
        let head = try client.readHead()
        guard head.status == 200, let length = head.headers["content-length"].flatMap({ Int($0) }) else { return [] }
        client.read { $0.count >= length }
        return (try JSON.parse(Array(client.received.prefix(length)))).array?.filter { $0["type"]?.string == "page" } ?? []
    }

    /// Sends one DevTools command and returns its `result` (events in between are skipped).
    @discardableResult
    public func command(_ method: String, _ params: JSON = [:], timeout: TimeInterval = 30) throws -> JSON {
        let id = nextID
        nextID += 1
        let message = JSON.object(["id": .int(Int64(id)), "method": .string(method), "params": params]).serialized
        try socket.send(Self.maskedTextFrame(Array(message.utf8)))
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            while let text = takeFrame() {
                guard let reply = try? JSON.parse(Array(text.utf8)), reply["id"]?.int64 == Int64(id) else { continue }
                if let error = reply["error"] { throw Failure(description: "\(method): \(error.serialized)") }
                return reply["result"] ?? .null
            }
            guard socket.read(timeout: max(0, deadline.timeIntervalSinceNow), until: { Self.frameLength($0) != nil }) else { break }
        }
        throw Failure(description: "\(method): no answer within \(timeout) s")
    }

    public func navigate(_ url: String) throws {
        try command("Page.navigate", ["url": .string(url)])
    }

    /// The value of a JavaScript expression in the page (JSON-serialisable values).
    public func evaluate(_ expression: String) throws -> JSON {
        let result = try command("Runtime.evaluate", ["expression": .string(expression), "returnByValue": true])
        if let exception = result["exceptionDetails"] { throw Failure(description: "\(expression): \(exception.serialized)") }
        return result["result"]?["value"] ?? .null
    }

    /// The next whole text frame the browser sent, if one has arrived.
    private func takeFrame() -> String? {
        guard let (header, length) = Self.frameLength(socket.received) else { return nil }
        let payload = Array(socket.received[header..<(header + length)])
        socket.received.removeFirst(header + length)
        return String(decoding: payload, as: UTF8.self)
    }

    /// (header size, payload length) of the first frame in `bytes` when it is all there.
    static func frameLength(_ bytes: [UInt8]) -> (Int, Int)? {
        guard bytes.count >= 2 else { return nil }
        var length = Int(bytes[1] & 0x7F)
        var header = 2
        if length == 126 {
            guard bytes.count >= 4 else { return nil }
            length = Int(bytes[2]) << 8 | Int(bytes[3])
            header = 4
        } else if length == 127 {
            guard bytes.count >= 10 else { return nil }
            length = bytes[2..<10].reduce(0) { $0 << 8 | Int($1) }
            header = 10
        }
        return bytes.count >= header + length ? (header, length) : nil
    }

    /// A client frame (clients must mask, RFC 6455 §5.3).
    static func maskedTextFrame(_ payload: [UInt8]) -> [UInt8] {
        let mask: [UInt8] = [0x5A, 0x17, 0xC3, 0x2E]
        var frame: [UInt8] = [0x81]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            frame += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return frame
    }
}
