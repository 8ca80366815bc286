import Foundation
import Jobs
import Support

struct LedgerVerifyCommand: Command {
    static let name = "ledger verify"
    static let summary = "Check the ledger's invariants for every account; exit 1 naming those that fail"
    static let usage = ""
    static let details = """
        For every account: the sum of its entries equals its grants' remainders less its debt
        (and its running total and last balance_after agree); each grant's remainder equals its
        amount plus its allocations; no remainder is negative. Reads one consistent snapshot.
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let report = try LedgerVerifier.verify(on: try context.connect())
        if context.json {
            context.print(json: ["ok": .bool(report.ok), "accounts": .int(report.accounts),
                                 "failing_accounts": .array(report.failingAccounts.map(JSON.string)),
                                 "failures": .array(report.failures.map { ["user_id": .string($0.userID), "problem": .string($0.problem)] })])
        } else if report.ok {
            context.print("ok: \(report.accounts) account(s), every invariant holds")
        } else {
            var table = Table(["user", "problem"])
            for f in report.failures { table.add([f.userID, f.problem]) }
            context.print(table.render())
        }
        guard report.ok else {
            throw CommandError.failure("\(report.failingAccounts.count) account(s) fail: \(report.failingAccounts.prefix(20).joined(separator: ", "))"
                                       + (report.failingAccounts.count > 20 ? ", …" : ""))
        }
        return 0
    }
}
