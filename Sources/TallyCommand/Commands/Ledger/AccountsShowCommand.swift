import Foundation
import Jobs
import Support

struct AccountsShowCommand: Command {
    static let name = "accounts show"
    static let summary = "Show an account: balance, debt, spendable grants, subscription, latest entries"
    static let usage = "USER [--entries N]"
    static let options: Set<String> = ["entries"]
    static let details = """
        The balance is what the user can spend now: the remainders of grants not past their
        expiry, less debt. Each entry shows who made it and why when an operator did (tally
        grant / debit --actor --reason, tally purchases confirm). --json gives the GET
        /v1/accounts/{user_id} document plus "entries" as GET /v1/accounts/{user_id}/ledger
        gives them, with their "metadata" (newest first, --entries N of them, default 10).
        Exit 1 if the user has no account.
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let user = try args.expect(["USER"], command: name)[0]
        let count = try args.int("entries", range: 0...500) ?? 10
        let c = try context.connect()
        guard var account = try LedgerReads.account(user, on: c) else { throw CommandError.failure("no account for user \(user)") }
        let entries = count > 0 ? (try LedgerReads.ledger(user, limit: count, on: c)?["entries"] ?? []) : []
        if context.json {
            if case .object(var members) = account {
                members["entries"] = entries
                account = .object(members)
            }
            context.print(json: account)
            return 0
        }
        var text = "user     \(user)\nbalance  \(account["balance"]!.int64!)\ndebt     \(account["debt"]!.int64!)\n"
        if let s = account["subscription"], !s.isNull {
            text += "subscription  \(s["status"]?.string ?? "?"), period ends \(s["current_period_end"]?.string ?? "-")"
            text += s["cancel_at_period_end"]?.bool == true ? ", cancels then\n" : "\n"
        }
        let grants = account["grants"]?.array ?? []
        var table = Table(["grant", "source", "amount", "remaining", "expires"])
        for g in grants {
            table.add([String(g["id"]!.int64!), g["source"]!.string!, String(g["amount"]!.int64!), String(g["remaining"]!.int64!),
                       g["expires_at"]?.string ?? "never"])
        }
        text += grants.isEmpty ? "\nNo spendable grants." : "\n" + table.render()
        var list = Table(["entry", "amount", "balance_after", "kind", "reference", "created", "actor", "reason"])
        for e in entries.array ?? [] {
            let meta = e["metadata"]
            list.add([String(e["id"]!.int64!), String(e["amount"]!.int64!), String(e["balance_after"]!.int64!), e["kind"]!.string!,
                      e["reference"]!.string!, e["created_at"]!.string!, meta?["actor"]?.string ?? "-",
                      meta?["reason"]?.string ?? meta?["note"]?.string ?? "-"])
        }
        if !(entries.array ?? []).isEmpty { text += "\n\nLatest entries:\n" + list.render() }
        context.print(text)
        return 0
    }
}
