import Foundation
import HTTPServer
import Jobs
import Support

/// `POST /v1/transfers {from_user_id, to_user_id, credits, idempotency_key, escrow?, expires_in?,
/// memo?}` → `transfer.create`, keyed `transfer:<from_user_id>:<idempotency_key>`; the id is
/// made from the sender and the key. 202 `{transfer_id, job_id}`; with `Prefer: wait`, 200 with
/// the transfer and the sender's balance, 402 `insufficient_credits`, 404 for an unknown user.
struct CreateTransferEndpoint: Endpoint {
    static let method = "POST"
    static let path = "/v1/transfers"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        var f = try request.fields()
        let from = try f.userID("from_user_id")
        let to = try f.userID("to_user_id")
        let credits = try f.positiveInt64("credits", maximum: Ledger.maxCredits)
        let key = try f.idempotencyKey()
        let escrow = try f.optionalBool("escrow") ?? false
        let expiresIn = try f.optionalPositiveInt64("expires_in", maximum: Transfers.maxEscrowExpiry)
        let memo = try f.optionalString("memo", maxBytes: 500)
        try f.finish()
        guard from != to else { throw .invalid("from_user_id and to_user_id are the same user") }
        if expiresIn != nil && !escrow { throw .invalid("expires_in goes with escrow: true") }
        let id = Transfers.id(fromUserID: from, idempotencyKey: key)
        let args = TransferCreateJob.Args(transfer_id: id, from_user_id: from, to_user_id: to, credits: credits,
                                          escrow: escrow ? true : nil, expires_in: expiresIn, memo: memo)
        let submitted = try await context.submit(try IngressContext.job(TransferCreateJob.self, args, uniqueKey: "transfer:\(from):\(key)"), for: request)
        return await context.accepted(request, submitted, body: ["transfer_id": .string(id), "job_id": .int(submitted.jobID)])
    }
}

/// `POST /v1/transfers/{transfer_id}/release` and `/refund`: end an escrow (the recipient gets
/// it, or the sender gets it back). A transfer not in escrow answers with its state.
struct EndTransferEndpoint: Endpoint {
    static let method = "POST"
    static let path = "/v1/transfers/{transfer_id}/{action}"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let id = try TransferPath.id(request)
        let action = request.parameter("action")
        guard action == "release" || action == "refund" else { throw .notFound("no endpoint \(request.http.path.prefix(200))") }
        if !request.http.body.isEmpty { try request.fields().finish() }
        let job = action == "release"
            ? try IngressContext.job(TransferReleaseJob.self, .init(transfer_id: id), uniqueKey: "transfer.release:\(id)")
            : try IngressContext.job(TransferRefundJob.self, .init(transfer_id: id), uniqueKey: "transfer.refund:\(id)")
        let submitted = try await context.submit(job, for: request)
        return await context.accepted(request, submitted, body: ["transfer_id": .string(id), "job_id": .int(submitted.jobID)])
    }
}

/// `GET /v1/transfers/{transfer_id}`.
struct ShowTransferEndpoint: Endpoint {
    static let method = "GET"
    static let path = "/v1/transfers/{transfer_id}"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let id = try TransferPath.id(request)
        guard let t = try await context.read(fromReplica: true, { c in try Transfers.read(id, on: c) }) else { throw .notFound("no transfer \(id)") }
        return .json(200, t.json)
    }
}

enum TransferPath {
    static func id(_ request: EndpointRequest) throws(APIError) -> String {
        try request.prefixedID("transfer_id", prefix: "transfer_", what: "transfer")
    }
}
