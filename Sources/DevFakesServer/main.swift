import DevFakes
import Dispatch
import Foundation

// `tally-dev-fakes`: local stand-ins for CoinGecko, BitGo and the Stripe API on 127.0.0.1, so
// that `ops/run` shows every flow working without accounts at those services. The same fakes
// the tests use (the DevFakes target), answering the fixtures' real-shaped payloads. Never
// point a production worker at them.

let usage = """
    Usage: tally-dev-fakes [--fixtures DIR] [--env-file PATH]

    Starts local stand-ins for CoinGecko, BitGo and the Stripe API on 127.0.0.1 (ephemeral
    ports), answering the real-shaped payloads of DIR (default: the checkout's Tests/Fixtures),
    and prints the settings that point a worker at them (COINGECKO_BASE_URL, BITGO_*,
    STRIPE_API_BASE, STRIPE_SECRET_KEY), one NAME=value a line; with --env-file, also writes
    them there once every server listens. Logs each request on stderr. Stops on SIGTERM/SIGINT.
    They are development fakes, not the services.
    """

var fixturesPath: String?
var envFile: String?
var words = Array(CommandLine.arguments.dropFirst())
while !words.isEmpty {
    let word = words.removeFirst()
    switch word {
    case "--fixtures" where !words.isEmpty: fixturesPath = words.removeFirst()
    case "--env-file" where !words.isEmpty: envFile = words.removeFirst()
    case "-h", "--help":
        print(usage)
        exit(0)
    default:
        FileHandle.standardError.write(Data("tally-dev-fakes: unknown or incomplete option \(word)\n\(usage)\n".utf8))
        exit(2)
    }
}

guard let fixtures = fixturesPath.map({ FixtureDirectory(URL(fileURLWithPath: $0)) }) ?? FixtureDirectory.locate() else {
    FileHandle.standardError.write(Data("tally-dev-fakes: cannot find Tests/Fixtures; pass --fixtures DIR\n".utf8))
    exit(2)
}

let coingecko: FakeCoinGecko
let bitgo: FakeBitGo
let stripe: FakeStripe
do {
    coingecko = try FakeCoinGecko(fixtures: fixtures)
    bitgo = try FakeBitGo(fixtures: fixtures)
    stripe = try FakeStripe(fixtures: fixtures)
} catch {
    FileHandle.standardError.write(Data("tally-dev-fakes: \(error)\n".utf8))
    exit(1)
}

for (name, server) in [("coingecko", coingecko.server), ("bitgo", bitgo.server), ("stripe", stripe.server)] {
    server.observe { request, response in
        let query = request.query.isEmpty ? "" : "?" + request.query
        FileHandle.standardError.write(Data("tally-dev-fakes: \(name) \(request.method) \(request.path)\(query) -> \(response.status)\n".utf8))
    }
}

let settings = coingecko.environment.merging(bitgo.environment) { a, _ in a }.merging(stripe.environment) { a, _ in a }
let text = "# local stand-ins (tally-dev-fakes), not the real services\n"
    + settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)\n" }.joined()
FileHandle.standardOutput.write(Data(text.utf8))
if let envFile {
    // Written whole, then renamed: a reader never sees half of it.
    let partial = envFile + ".partial"
    do {
        try Data(text.utf8).write(to: URL(fileURLWithPath: partial))
        if FileManager.default.fileExists(atPath: envFile) { try FileManager.default.removeItem(atPath: envFile) }
        try FileManager.default.moveItem(atPath: partial, toPath: envFile)
    } catch {
        FileHandle.standardError.write(Data("tally-dev-fakes: cannot write \(envFile): \(error)\n".utf8))
        exit(1)
    }
}

/// Created outside any actor: a handler closure inferred @MainActor and run on another queue
/// crashes (SWIFT-ON-LINUX.md, Signals).
nonisolated func stopOnSignals() -> [any DispatchSourceSignal] {
    [SIGTERM, SIGINT].map { sig in
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue.global())
        source.setEventHandler { @Sendable in exit(0) }
        source.resume()
        return source
    }
}

let signalSources = stopOnSignals()
// The fakes serve on their own threads; the main thread only waits for a signal.
dispatchMain()
