import Foundation
import Support
import Synchronization

/// Where and how the server listens, and its limits (DESIGN.md, "The ingress").
public struct ServerConfig: Sendable {
    public var host: String = "127.0.0.1"
    public var port: UInt16 = 8080
    /// Event loop threads; one per core by default.
    public var threads: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Open connections across all loops; past it a new connection gets 503 and is closed.
    public var maxConnections: Int = 4096
    /// Open connections one client address may hold; past it a new one gets 503 and is closed.
    public var maxConnectionsPerClient: Int = 256
    /// A request (head and body) must arrive whole within this time of its first byte.
    public var requestTimeout: TimeInterval = 10
    /// An idle keep-alive connection is closed after this.
    public var idleTimeout: TimeInterval = 60
    public var limits = RequestParser.Limits()
    /// The setting `host` and `port` came from, named when they are refused or the port is
    /// taken (the ingress's `TALLY_LISTEN`; `setListen` sets it).
    public var listenSetting = "the listen address"

    public init() {}

    /// `host:port`, `[v6]:port` or `:port`, read from `setting`; port 0 picks a free one.
    public mutating func setListen(_ text: String, setting: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            throw ConfigurationError(setting: setting, purpose: "host:port (like 127.0.0.1:8080), got \"\(text)\"")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        if host == "localhost" { host = "127.0.0.1" }
        self.host = host
        self.port = port
        self.listenSetting = setting
    }
}
