import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// `crypto.confirm_manual {"purchase_id", "actor", "note"?}` (queue `payments`; enqueued by
/// `tally purchases confirm ID --actor A [--note N]`): an operator confirms a payment by hand,
/// typically a `late` or `underpaid` purchase they have looked into. The product's credits are
/// granted (ledger reference `crypto:<purchase id>`, so never twice, with the actor and note in
/// the entry's metadata), the purchase becomes `paid` (`overpaid` if more than the quote
/// arrived), the user is notified, and `crypto_manual_confirmations` records who, when, why
/// and what changed: all in the transaction that completes the job.
///
/// Refusals complete the job with `{"error": "not_found" | "already_granted" | "not_confirmable",
/// "message", "purchase_id"}` and change nothing.
public struct CryptoConfirmManualJob: Job {
    public struct Args: Codable, Sendable {
        public let purchase_id: String
        public let actor: String
        public let note: String?
    }

    public static let kind = "crypto.confirm_manual"
    public static let queue = "payments"

    let settings: CryptoSettings

    public init(settings: CryptoSettings = .defaults) {
        self.settings = settings
    }

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let id: String
        do {
            id = try Purchase.canonicalID(args.purchase_id)
            try Self.validate(actor: args.actor, note: args.note)
        } catch let error as CryptoError {
            throw JobError.permanent(error.description)
        }
        let jobID = context.job.id
        return try await context.completeInTransaction { tx in
            guard let row = try tx.query(CryptoQueries.lock, [id]).first else {
                return ["error": "not_found", "message": .string("no purchase \(id)"), "purchase_id": .string(id)]
            }
            let p = try Purchase(row: row)
            let facts = try p.facts(on: tx, threshold: settings.threshold(p.coin))
            let decided = facts.map(PurchaseDecision.confirmByHand) ?? .failure(.notConfirmable(p.status))
            let d: PurchaseDecision
            switch decided {
            case .failure(let refusal):
                return ["error": .string(refusal.code), "message": .string(refusal.description), "purchase_id": .string(id),
                        "status": .string(p.status.rawValue)]
            case .success(let decision):
                d = decision
            }
            let outcome = try PurchaseTransition.apply(d, to: p, settings: settings,
                                                       metadata: ["manual": true, "actor": .string(args.actor), "note": .optional(args.note)],
                                                       on: tx)
            let audit = try tx.query(CryptoQueries.recordConfirmation, [id, args.actor, args.note, p.status.rawValue,
                                                                        outcome.purchase.status.rawValue, p.credits ?? 0,
                                                                        d.received.description, jobID]).first.orThrow("no audit row")
            Log.info("crypto purchase confirmed by hand", ["purchase_id": id, "actor": args.actor, "previous": p.status.rawValue])
            return ["purchase_id": .string(id), "status": .string(outcome.purchase.status.rawValue),
                    "previous_status": .string(p.status.rawValue), "granted": .bool(outcome.granted), "credits": .optional(p.credits),
                    "actor": .string(args.actor), "note": .optional(args.note), "confirmation_id": .int(try audit.int64("id")),
                    "confirmed_at": .string(Timestamp.iso8601(try audit.date("created_at")))]
        }
    }

    /// Who confirms must be named; the note is optional but bounded (the command checks the same).
    public static func validate(actor: String, note: String?) throws {
        guard !actor.trimmingCharacters(in: .whitespaces).isEmpty, actor.utf8.count <= 200 else {
            throw CryptoError.invalid("actor must be 1 to 200 bytes (who confirms)")
        }
        if let note, note.utf8.count > 2000 { throw CryptoError.invalid("note must be at most 2000 bytes") }
    }
}
