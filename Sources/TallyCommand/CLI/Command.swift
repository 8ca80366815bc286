import Foundation
import Postgres
import Support

/// One `tally` command (or subcommand: its name has the words, "jobs list").
protocol Command: Sendable {
    /// The words that name it: "jobs list".
    static var name: String { get }
    /// One line for `tally --help`.
    static var summary: String { get }
    /// The arguments after the name, for usage lines: "ID [--json]".
    static var usage: String { get }
    /// What `--help` adds: what it does, its options, examples.
    static var details: String { get }
    /// Options that take a value.
    static var options: Set<String> { get }
    /// Switches.
    static var flags: Set<String> { get }
    /// Whether it needs DATABASE_URL (all but help do).
    static var needsDatabase: Bool { get }

    /// On the main actor, so a command's blocking libpq calls run on the main thread, never on
    /// Swift's cooperative pool (two threads here). Commands that start services (`worker`,
    /// `ingress`) await `ServiceRunner.run`, which is nonisolated: the services run on their
    /// own threads and pools as before, and the main thread only waits.
    @MainActor static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32
}

extension Command {
    static var options: Set<String> { [] }
    static var flags: Set<String> { [] }
    static var needsDatabase: Bool { true }
    static var details: String { "" }

    static var helpText: String {
        var text = "Usage: tally \(name)\(usage.isEmpty ? "" : " " + usage)\n\n\(summary)\n"
        if !details.isEmpty { text += "\n" + details + "\n" }
        text += "\nEvery command takes --json for output scripts can parse, and --help.\n"
        return text
    }
}

/// What commands share: the environment, the database, where output goes.
struct CommandContext {
    let environment: Environment
    let json: Bool

    var databaseURL: String {
        // Checked before any command runs (exit 2 without it).
        environment["DATABASE_URL"]!
    }

    /// A connection for this command. Its calls block: on the main actor (see `Command.run`),
    /// so they block the main thread, never a thread of Swift's cooperative pool.
    @MainActor func connect() throws -> Connection {
        do {
            return try Connection.connect(databaseURL, applicationName: "tally-command")
        } catch {
            throw CommandError.failure("\(error) (DATABASE_URL=\(Self.redacted(databaseURL)))")
        }
    }

    /// Prints a JSON document (for --json).
    func print(json value: JSON) {
        Output.line(value.serialized)
    }

    /// Prints text for people.
    func print(_ text: String) {
        Output.line(text)
    }

    /// A URL with its password hidden, for messages.
    static func redacted(_ url: String) -> String {
        guard let at = url.firstIndex(of: "@"), let scheme = url.range(of: "://"), scheme.upperBound < at else { return url }
        let userinfo = url[scheme.upperBound..<at]
        guard let colon = userinfo.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }
}

enum Output {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
