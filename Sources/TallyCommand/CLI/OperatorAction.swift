import Foundation
import Postgres
import Queue
import Support

/// The audit of one operator command (DESIGN.md, "Auditing"): who runs it (`--actor`, else
/// `$TALLY_ACTOR`, else the login the command runs as, `os:<name>`), the action (the
/// command's name with dots) and why (`--reason`).
struct OperatorAction: Sendable {
    let action: String
    let actor: String
    let reason: String?

    init(_ command: String, _ args: Arguments, _ environment: Environment) throws {
        action = command.replacingOccurrences(of: " ", with: ".")
        let login = environment["USER"] ?? environment["LOGNAME"] ?? Self.loginName()
        actor = args.option("actor") ?? environment["TALLY_ACTOR"] ?? "os:\(login)"
        reason = args.option("reason")
        if let problem = Audit.problem(actor: actor, reason: reason) { throw CommandError.usage(problem) }
    }
}

extension OperatorAction {
    /// The name of the user this process runs as, from the password database (no $USER in a
    /// container or under cron), else its uid.
    static func loginName() -> String {
        let uid = getuid()
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid\(uid)" }
        return String(cString: name)
    }
}

extension CommandContext {
    /// The actor of this audited command.
    var actor: String { operatorAction?.actor ?? "an operator" }

    /// Writes this command's audit row on `connection` (in its transaction when it is in one,
    /// so the action and its record commit together). `reason` replaces `--reason`.
    @MainActor func audit(target: String?, details: JSON = [:], reason: String? = nil, on connection: Connection) throws {
        guard let action = operatorAction else { preconditionFailure("audit() from a command that is not audited") }
        try Audit.record(actor: action.actor, action: action.action, target: target, reason: reason ?? action.reason,
                         details: details, on: connection)
    }
}
