import Foundation
import Jobs
import Support

struct LedgerVerifyCommand: Command {
    static let name = "ledger verify"
    static let summary = "Check the ledger's invariants for every account; exit 1 naming those that fail"
    static let usage = ""
    static let details = """
        Checks, over one consistent snapshot (each failure names its check, user and rows):
          account_balance    an account's entries sum to its grants' remainders less its debt
          account_total      its running total (entries_total) is the sum of its entries
          balance_after      each entry's balance_after = the previous one + its amount (from 0),
                             and the last one = the running total
          grant_remaining    a grant's remainder = its amount + its allocations, within [0, amount]
          entry_allocations  the grants an entry created and its allocations account for its
                             amount (only a clawback's shortfall becomes debt)
          debt               the debt the entries made and repaid never falls below 0 and ends
                             at the account's debt
          allocation_owner   allocations and created grants are the entry's user's
          payment_grant      a paid payment bought exactly one grant of its credits, its user's
          grant_payment      a grant from a payment points at an existing paid one, its user's
          purchase_grant     a granted crypto purchase holds exactly its grant, of its credits
        Exit 1 when any fails.
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let report = try LedgerVerifier.verify(on: try context.connect())
        if context.json {
            context.print(json: ["ok": .bool(report.ok), "accounts": .int(report.accounts),
                                 "checks": .array(LedgerVerifier.Check.allCases.map { .string($0.rawValue) }),
                                 "failing_accounts": .array(report.failingAccounts.map(JSON.string)),
                                 "failing_checks": .array(report.failingChecks.map { .string($0.rawValue) }),
                                 "failures": .array(report.failures.map(failureJSON))])
        } else if report.ok {
            context.print("ok: \(report.accounts) account(s), every invariant holds")
        } else {
            var table = Table(["check", "user", "problem"])
            for f in report.failures { table.add([f.check.rawValue, f.userID, f.problem]) }
            context.print(table.render())
        }
        guard report.ok else {
            throw CommandError.failure("\(report.failingAccounts.count) account(s) fail: \(report.failingAccounts.prefix(20).joined(separator: ", "))"
                                       + (report.failingAccounts.count > 20 ? ", …" : ""))
        }
        return 0
    }

    static func failureJSON(_ f: LedgerVerifier.Failure) -> JSON {
        var rows: [String: JSON] = [:]
        for r in f.rows { rows[r.key] = r.json }
        return ["check": .string(f.check.rawValue), "user_id": .string(f.userID), "rows": .object(rows), "problem": .string(f.problem)]
    }
}
