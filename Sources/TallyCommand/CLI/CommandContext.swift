import Foundation
import Postgres
import Support

/// What commands share: the environment, the database, where output goes.
struct CommandContext {
    let environment: Environment
    let json: Bool
    /// Who does what, for an audited command (nil otherwise).
    var operatorAction: OperatorAction? = nil
    /// The database session limits (`SessionLimits`), read once before the command runs.
    var limits = SessionLimits.defaults

    var databaseURL: String {
        // Checked before any command runs (exit 2 without it).
        environment["DATABASE_URL"]!
    }

    /// A connection for this command. Its calls block: on the main actor (see `Command.run`),
    /// so they block the main thread, never a thread of Swift's cooperative pool.
    @MainActor func connect() throws -> Connection {
        do {
            return try Connection.connect(databaseURL, applicationName: "tally-command", limits: limits)
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
