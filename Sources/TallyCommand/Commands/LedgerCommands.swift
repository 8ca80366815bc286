import Foundation
import Jobs
import Postgres
import Queue
import Support

// The ledger's commands (DESIGN.md, "The command"; docs/ledger.md).

struct AccountsShowCommand: Command {
    static let name = "accounts show"
    static let summary = "Show an account: balance, debt, spendable grants, subscription, latest entries"
    static let usage = "USER [--entries N]"
    static let options: Set<String> = ["entries"]
    static let details = """
        The balance is what the user can spend now: the remainders of grants not past their
        expiry, less debt. --json gives the GET /v1/accounts/{user_id} document plus "entries"
        (newest first, --entries N of them, default 10). Exit 1 if the user has no account.
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
        var list = Table(["entry", "amount", "balance_after", "kind", "reference", "created"])
        for e in entries.array ?? [] {
            list.add([String(e["id"]!.int64!), String(e["amount"]!.int64!), String(e["balance_after"]!.int64!), e["kind"]!.string!,
                      e["reference"]!.string!, e["created_at"]!.string!])
        }
        if !(entries.array ?? []).isEmpty { text += "\n\nLatest entries:\n" + list.render() }
        context.print(text)
        return 0
    }
}

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

/// `tally grant` and `tally debit`: an operator's adjustment (the same code as `admin.adjust`).
enum Adjust {
    static let options: Set<String> = ["reason", "actor", "reference", "expires"]

    @MainActor static func run(sign: Int64, _ args: Arguments, _ context: CommandContext, command: String) throws -> Int32 {
        let words = try args.expect(["USER", "CREDITS"], command: command)
        guard let credits = Int64(words[1]), credits > 0 else {
            throw CommandError.usage("CREDITS must be a positive whole number, got \"\(words[1])\"")
        }
        let reason = try args.required("reason", command: command)
        let actor = try args.required("actor", command: command)
        var expires: String?
        if let text = args.option("expires") {
            guard sign > 0 else { throw CommandError.usage("--expires goes with tally grant") }
            guard let date = Timestamp.parseAt(text) else { throw CommandError.usage("--expires takes ISO-8601 or +30d, got \"\(text)\"") }
            expires = Timestamp.iso8601(date)
        }
        let adjustment = AdminAdjustment(user_id: words[0], amount: sign * credits, reason: reason, actor: actor,
                                         reference: args.option("reference"), expires_at: expires)
        let reference = "admin:" + (args.option("reference") ?? "cli:\(Crypto.randomHex(8))")
        let c = try context.connect()
        let result: JSON
        do {
            result = try c.transaction { tx in try adjustment.apply(reference: reference, on: tx) }
        } catch let error as LedgerError {
            throw CommandError.usage(error.description)
        }
        if context.json { context.print(json: result) }
        switch result["error"]?.string {
        case "account_not_found"?:
            throw CommandError.failure("no account for user \(words[0])")
        case "insufficient_credits"?:
            throw CommandError.failure("refused: the balance \(result["balance"]!.int64!) does not cover \(credits); a debit never creates debt")
        default:
            break
        }
        if !context.json {
            let verb = sign > 0 ? "granted \(credits) credits to" : "debited \(credits) credits from"
            let again = result["applied"]?.bool == false ? " (already applied with this reference: nothing changed)" : ""
            context.print("\(verb) \(words[0])\(again); balance \(result["balance"]!.int64!)")
        }
        return 0
    }

    static let details = """
        Options:
          --reason R      why (kept in the ledger entry), required
          --actor A       who (kept in the ledger entry), required
          --reference K   an idempotency key: the same K applies once however often it is run
        """
}

struct GrantCommand: Command {
    static let name = "grant"
    static let summary = "Grant credits to a user (an operator's adjustment, with actor and reason)"
    static let usage = "USER CREDITS --reason R --actor A [--expires TIME] [--reference K]"
    static let options = Adjust.options
    static let details = Adjust.details + "\n  --expires TIME  when the credits expire (ISO-8601 or +30d); default never\n"

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try Adjust.run(sign: 1, args, context, command: name)
    }
}

struct DebitCommand: Command {
    static let name = "debit"
    static let summary = "Take credits from a user (an operator's adjustment); refused if it would create debt"
    static let usage = "USER CREDITS --reason R --actor A [--reference K]"
    static let options: Set<String> = ["reason", "actor", "reference"]
    static let details = Adjust.details

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try Adjust.run(sign: -1, args, context, command: name)
    }
}

struct AgentsListCommand: Command {
    static let name = "agents list"
    static let summary = "List agent prices (credits per unit of usage)"
    static let usage = ""

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let rows = try context.connect().query(LedgerQueries.listAgents)
        var list: [JSON] = []
        var table = Table(["agent", "credits_per_unit", "updated"])
        for row in rows {
            let agent = try row.string("name"), price = try row.int64("credits_per_unit"), updated = try row.date("updated_at")
            list.append(["name": .string(agent), "credits_per_unit": .int(price), "updated_at": .string(Timestamp.iso8601(updated))])
            table.add([agent, String(price), Show.time(updated)])
        }
        if context.json { context.print(json: ["agents": .array(list)]) } else { context.print(table.render()) }
        return 0
    }
}

struct AgentsSetCommand: Command {
    static let name = "agents set"
    static let summary = "Set an agent's price in credits per unit (creates the agent)"
    static let usage = "NAME CREDITS_PER_UNIT"

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let words = try args.expect(["NAME", "CREDITS_PER_UNIT"], command: name)
        guard words[0].utf8.count <= 128, !words[0].isEmpty else { throw CommandError.usage("NAME must be 1 to 128 characters") }
        guard let price = Int64(words[1]), price >= 0 else {
            throw CommandError.usage("CREDITS_PER_UNIT must be a whole number of credits, 0 or more, got \"\(words[1])\"")
        }
        do {
            let row = try context.connect().query(LedgerQueries.setAgent, [words[0], price]).first!
            if context.json {
                context.print(json: ["name": .string(try row.string("name")), "credits_per_unit": .int(try row.int64("credits_per_unit"))])
            } else {
                context.print("agent \(words[0]) costs \(price) credit(s) per unit")
            }
        } catch let error as PostgresError where error.sqlState == "23514" {
            throw CommandError.usage("NAME may use letters, digits, _ . : - (starting with a letter or digit)")
        }
        return 0
    }
}

struct ProductsListCommand: Command {
    static let name = "products list"
    static let summary = "List products: credits, price, Stripe price id, one-time or monthly"
    static let usage = ""

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let rows = try context.connect().query(LedgerQueries.listProducts)
        var list: [JSON] = []
        var table = Table(["product", "credits", "usd_cents", "stripe_price", "billing"])
        for row in rows {
            let json = try productJSON(row)
            list.append(json)
            table.add([json["name"]!.string!, String(json["credits"]!.int64!), String(json["usd_cents"]!.int64!),
                       json["stripe_price_id"]?.string ?? "-", json["monthly"]!.bool! ? "monthly" : "one-time"])
        }
        if context.json { context.print(json: ["products": .array(list)]) } else { context.print(table.render()) }
        return 0
    }
}

func productJSON(_ row: Row) throws -> JSON {
    ["name": .string(try row.string("name")), "credits": .int(try row.int64("credits")), "usd_cents": .int(try row.int64("usd_cents")),
     "stripe_price_id": .optional(try row.optString("stripe_price_id")), "monthly": .bool(try row.bool("monthly"))]
}

struct ProductsSetCommand: Command {
    static let name = "products set"
    static let summary = "Create or change a product"
    static let usage = "NAME --credits N --usd-cents C [--stripe-price ID] [--monthly | --one-time]"
    static let options: Set<String> = ["credits", "usd-cents", "stripe-price"]
    static let flags: Set<String> = ["monthly", "one-time"]
    static let details = """
        Options:
          --credits N        credits it grants (a month's, for a monthly product)
          --usd-cents C      its price in cents (a month's, for a monthly product)
          --stripe-price ID  the Stripe price id that buys it: a checkout without metadata.credits
                             grants this product's credits; kept when not given
          --monthly          a subscription product (invoice.paid grants its credits each month)
          --one-time         a top-up (the default for a new product)
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let product = try args.expect(["NAME"], command: name)[0]
        guard let credits = Int64(try args.required("credits", command: name)), credits > 0 else {
            throw CommandError.usage("--credits must be a positive whole number")
        }
        guard let cents = Int64(try args.required("usd-cents", command: name)), cents >= 0 else {
            throw CommandError.usage("--usd-cents must be a whole number of cents, 0 or more")
        }
        if args.flag("monthly") && args.flag("one-time") { throw CommandError.usage("--monthly or --one-time, not both") }
        let monthly: Bool? = args.flag("monthly") ? true : (args.flag("one-time") ? false : nil)
        let row: Row
        do {
            row = try context.connect().query(LedgerQueries.setProduct, [product, credits, cents, args.option("stripe-price"), monthly]).first!
        } catch let error as PostgresError where error.sqlState == "23514" {
            throw CommandError.usage("NAME may use lowercase letters, digits, _ . - (starting with a letter or digit), at most 64")
        } catch let error as PostgresError where error.isUniqueViolation {
            throw CommandError.failure("another product already has Stripe price \(args.option("stripe-price") ?? "")")
        }
        let json = try productJSON(row)
        if context.json {
            context.print(json: json)
        } else {
            context.print("product \(product): \(credits) credits for \(cents) cents\(json["monthly"]!.bool! ? " a month" : "")"
                          + (json["stripe_price_id"]?.string.map { ", Stripe price \($0)" } ?? ""))
        }
        return 0
    }
}
