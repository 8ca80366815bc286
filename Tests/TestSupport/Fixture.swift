import Foundation

/// The real-shaped Stripe, BitGo and CoinGecko payloads in `Tests/Fixtures` (copied from the
/// project's shared fixtures; see their README). Stripe bodies are signed byte for byte, so
/// tests read them as bytes, never re-serialised.
public enum Fixture {
    public static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    /// `path` below Tests/Fixtures, e.g. `stripe/invoice.paid.subscription_cycle.json`.
    public static func url(_ path: String) -> URL { directory.appendingPathComponent(path) }

    public static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: url(path))) }

    public static func text(_ path: String) throws -> String { try String(contentsOf: url(path), encoding: .utf8) }
}
