import Foundation

struct DebitCommand: Command {
    static let name = "debit"
    static let summary = "Take credits from a user (an operator's adjustment); refused if it would create debt"
    static let usage = "USER CREDITS --reason R --actor A [--reference K]"
    static let audited = true
    static let options: Set<String> = ["reason", "actor", "reference"]
    static let details = Adjust.details

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try Adjust.run(sign: -1, args, context, command: name)
    }
}
