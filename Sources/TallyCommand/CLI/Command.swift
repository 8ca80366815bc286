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
    /// An operator action: it takes `--actor A` and `--reason R` and writes an audit row
    /// (`CommandContext.audit`), action = its name with dots ("jobs retry" → "jobs.retry").
    static var audited: Bool { get }

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
    static var audited: Bool { false }
    static var details: String { "" }

    /// Its options, with `actor` and `reason` when it is audited.
    static var allOptions: Set<String> { audited ? options.union(["actor", "reason"]) : options }

    static var helpText: String {
        var text = "Usage: tally \(name)\(usage.isEmpty ? "" : " " + usage)\n\n\(summary)\n"
        if !details.isEmpty { text += "\n" + details + "\n" }
        if audited {
            text += "\nAudited (tally audit list): --actor A names who (default $TALLY_ACTOR, else os:<login>), --reason R says why.\n"
        }
        text += "\nEvery command takes --json for output scripts can parse, and --help.\n"
        return text
    }
}
