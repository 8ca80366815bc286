import Foundation

struct GrantCommand: Command {
    static let name = "grant"
    static let summary = "Grant credits to a user (an operator's adjustment, with actor and reason)"
    static let usage = "USER CREDITS --reason R --actor A [--expires TIME] [--reference K]"
    static let audited = true
    static let options = Adjust.options
    static let details = Adjust.details + "\n  --expires TIME  when the credits expire (ISO-8601 or +30d); default never\n"

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try Adjust.run(sign: 1, args, context, command: name)
    }
}
