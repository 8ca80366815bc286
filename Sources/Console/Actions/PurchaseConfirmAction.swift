import HTTPServer
import Jobs
import Postgres
import Queue
import Support

/// `POST /purchases/{id}/confirm {note}`: enqueues crypto.confirm_manual for the operator (as
/// `tally purchases confirm --actor` does), with its audit row in the same transaction.
struct PurchaseConfirmAction: ConsoleRoute {
    static let method = "POST"
    static let path = "/purchases/{id}/confirm"

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        guard let id = try? Purchase.canonicalID(request.parameters["id"] ?? "") else { throw ConsoleError.notFound("no such purchase") }
        let actor = request.operatorSession.name
        let note = request.value("note")
        do { try CryptoConfirmManualJob.validate(actor: actor, note: note) } catch { throw ConsoleError.badRequest("\(error)") }
        let jobID = try await context.act(request, action: "purchases.confirm", target: id, reason: note) { tx in
            guard let row = try tx.query(CryptoQueries.get, [id]).first else { throw ConsoleError.notFound("no purchase \(id)") }
            let p = try Purchase(row: row)
            guard p.status.isConfirmableByHand else {
                throw ConsoleError.badRequest("purchase \(id) is \(p.status.rawValue): it cannot be confirmed by hand")
            }
            let enqueued = try Enqueuer().enqueue(CryptoConfirmManualJob.request(purchaseID: id, actor: actor, note: note), on: tx)
            return (enqueued.id, ["job_id": .int(enqueued.id), "previous_status": .string(p.status.rawValue)])
        }
        return .seeOther(Layout.withNotice("/purchases", "Purchase \(id): confirmation enqueued as job \(jobID)."))
    }
}
