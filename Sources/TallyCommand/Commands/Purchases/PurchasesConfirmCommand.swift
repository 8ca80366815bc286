import Foundation
import Jobs
import Postgres
import Queue
import Support

struct PurchasesConfirmCommand: Command {
    static let name = "purchases confirm"
    static let summary = "Confirm a crypto payment by hand (grants the credits; audited)"
    static let usage = "ID --actor A [--note N] [--wait]"
    static let audited = true
    static let options: Set<String> = ["actor", "note"]
    static let flags: Set<String> = ["wait"]
    static let details = """
        Enqueues crypto.confirm_manual (queue payments), which grants the product's credits once,
        marks the purchase paid (overpaid if more than the quote arrived), notifies the user and
        records who confirmed, when and why. For purchases held for an operator (late, underpaid)
        or any that has not been granted yet; refused for paid, overpaid, reversed, failed and
        quoting purchases (exit 1).

        Options:
          --actor A   who confirms (required; kept in the audit and the ledger entry)
          --note N    why (kept in the audit)
          --wait      wait up to 30 s for a worker to apply it and print the outcome
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let id = try PurchaseLookup.id(args, command: name)
        let actor = try args.required("actor", command: name)
        let note = args.option("note")
        do { try CryptoConfirmManualJob.validate(actor: actor, note: note) } catch { throw CommandError.usage("\(error)") }
        let connection = try context.connect()
        let p = try PurchaseLookup.load(id, on: connection)
        guard p.status.isConfirmableByHand else {
            let refusal: PurchaseDecision.Refusal = p.status.isGranted ? .alreadyGranted(p.status) : .notConfirmable(p.status)
            throw CommandError.failure("purchase \(id): \(refusal)")
        }
        let job = CryptoConfirmManualJob.request(purchaseID: id, actor: actor, note: note)
        let enqueued = try connection.transaction { tx in
            let enqueued = try Enqueuer().enqueue(job, on: tx)
            try context.audit(target: id, details: ["job_id": .int(enqueued.id)], reason: note ?? args.option("reason"), on: tx)
            return enqueued
        }
        guard args.flag("wait") else {
            if context.json {
                context.print(json: ["job_id": .int(enqueued.id), "purchase_id": .string(id), "inserted": .bool(enqueued.inserted)])
            } else {
                context.print("enqueued job \(enqueued.id) to confirm purchase \(id)"
                    + (enqueued.inserted ? "" : " (already waiting)") + "; follow it with tally jobs show \(enqueued.id)")
            }
            return 0
        }
        // Bounded: polls until a monotonic deadline (a wall-clock change cannot stretch it).
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while clock.now < deadline {
            if let record = try JobStore.job(id: enqueued.id, on: connection) {
                if record.state == .completed, let result = record.result {
                    if context.json { context.print(json: result) }
                    if let error = result["error"]?.string {
                        throw CommandError.failure("purchase \(id): \(result["message"]?.string ?? error)")
                    }
                    if !context.json {
                        context.print("purchase \(id) confirmed by \(actor): \(result["previous_status"]?.string ?? "?") → "
                            + "\(result["status"]?.string ?? "?"), \(result["credits"]?.numberText ?? "?") credits granted")
                    }
                    return 0
                }
                if [.discarded, .cancelled].contains(record.state) {
                    throw CommandError.failure("job \(enqueued.id) was \(record.state.rawValue): \(record.errors.last?.message ?? "no error recorded")")
                }
            }
            try await Task.sleep(for: .milliseconds(200))  // a worker picks it up; the command polls its row
        }
        throw CommandError.failure("job \(enqueued.id) did not finish within 30 s (is a worker running on queue payments?); "
            + "follow it with tally jobs show \(enqueued.id)")
    }
}
