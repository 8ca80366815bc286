import Foundation
import Support

/// Where the fakes find the real-shaped payloads they answer with: the project's fixtures
/// (`Tests/Fixtures` in the checkout, copied from the shared fixtures; see their README).
/// Tests pass theirs; `tally-dev-fakes` takes `--fixtures DIR` or finds the checkout's.
public struct FixtureDirectory: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }

    /// `path` below the directory, e.g. `bitgo/api.create_address.btc.json`.
    public func text(_ path: String) throws -> String {
        try String(contentsOf: url.appendingPathComponent(path), encoding: .utf8)
    }

    public func json(_ path: String) throws -> JSON { try JSON.parse(try text(path)) }

    /// `Tests/Fixtures` in the nearest folder above the executable or the current directory
    /// that has it (a build inside the checkout, or ops/run from it).
    public static func locate() -> FixtureDirectory? {
        let fm = FileManager.default
        var starts = [URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()]
        starts.append(URL(fileURLWithPath: fm.currentDirectoryPath))
        for start in starts {
            var dir = start
            for _ in 0..<8 {
                let candidate = dir.appendingPathComponent("Tests/Fixtures")
                if fm.fileExists(atPath: candidate.appendingPathComponent("coingecko").path) { return FixtureDirectory(candidate) }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }
}
