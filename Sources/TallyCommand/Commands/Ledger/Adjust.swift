import Foundation
import Jobs
import Postgres
import Support

/// `tally grant` and `tally debit`: an operator's adjustment (the same code as `admin.adjust`).
enum Adjust {
    static let options: Set<String> = ["reason", "actor", "reference", "expires"]

    @MainActor static func run(sign: Int64, _ args: Arguments, _ context: CommandContext, command: String) throws -> Int32 {
        let words = try args.expect(["USER", "CREDITS"], command: command)
        let credits = try Arguments.credits(words[1], "CREDITS", minimum: 1)
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
            result = try c.transaction { tx in
                let result = try adjustment.apply(reference: reference, on: tx)
                try context.audit(target: "user:\(words[0])", details: ["credits": .int(sign * credits), "reference": .string(reference),
                                                                       "expires_at": .optional(expires), "result": result], reason: reason, on: tx)
                return result
            }
        } catch let error as LedgerError {
            throw CommandError.usage(error.description)
        }
        if context.json { context.print(json: result) }
        switch LedgerRefusal(result: result) {
        case .accountNotFound?:
            throw CommandError.failure("no account for user \(words[0])")
        case .insufficientCredits?:
            throw CommandError.failure("refused: the balance \(result["balance"]?.int64 ?? 0) does not cover \(credits); a debit never creates debt")
        case .unknownAgent?, .invalidUnits?, .captureExceedsHold?, .holdNotFound?, .transferNotFound?, nil:
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
