import Foundation
import HTTPServer
import Jobs
import Postgres
import Support

/// `POST /v1/holds {user_id, credits | (agent, units), idempotency_key, expires_in?}` →
/// `hold.create`, keyed `hold:<user_id>:<idempotency_key>`. The hold's id is made from the user
/// and the key (`Hold.id`), so a replay names the same hold. 202 `{job_id, hold_id}`; with
/// `Prefer: wait`, 200 with the hold and the balance, or 402 / 404 / 400 like usage.
struct CreateHoldEndpoint: Endpoint {
    static let method = "POST"
    static let path = "/v1/holds"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        var f = try request.fields()
        let userID = try f.userID()
        let credits = try f.optionalPositiveInt64("credits", maximum: Ledger.maxCredits)
        let agent = try f.optionalString("agent", maxBytes: 128)
        let units = try f.optionalPositiveInt64("units", maximum: Ledger.maxCredits)
        let key = try f.idempotencyKey()
        let expiresIn = try f.optionalPositiveInt64("expires_in", maximum: Holds.maxExpiry)
        try f.finish()
        switch (credits, agent, units) {
        case (_?, nil, nil), (nil, _?, _?): break
        default: throw .invalid("give credits, or agent and units")
        }
        let holdID = Hold.id(userID: userID, idempotencyKey: key)
        let args = HoldCreateJob.Args(hold_id: holdID, user_id: userID, credits: credits, agent: agent, units: units, expires_in: expiresIn)
        let submitted = try await context.submit(try IngressContext.job(HoldCreateJob.self, args, uniqueKey: "hold:\(userID):\(key)"), for: request)
        return await context.accepted(request, submitted, body: ["hold_id": .string(holdID), "job_id": .int(submitted.jobID)])
    }
}

/// `POST /v1/holds/{hold_id}/capture {credits? | units?, idempotency_key}` → `hold.capture`,
/// keyed `hold.capture:<hold_id>:<idempotency_key>`: charge at most what is held (nothing given:
/// all of it); the rest is released at once. More than held: 400 `capture_exceeds_hold` (with
/// `Prefer: wait`). A hold already ended answers with its final state, charging nothing again.
struct CaptureHoldEndpoint: Endpoint {
    static let method = "POST"
    static let path = "/v1/holds/{hold_id}/capture"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let holdID = try HoldPath.id(request)
        var f = try request.fields()
        let credits = try f.optionalPositiveInt64("credits", maximum: Ledger.maxCredits)
        let units = try f.optionalPositiveInt64("units", maximum: Ledger.maxCredits)
        let key = try f.idempotencyKey()
        try f.finish()
        if credits != nil && units != nil { throw .invalid("credits or units, not both") }
        let args = HoldCaptureJob.Args(hold_id: holdID, credits: credits, units: units, idempotency_key: key)
        let submitted = try await context.submit(try IngressContext.job(HoldCaptureJob.self, args, uniqueKey: "hold.capture:\(holdID):\(key)"),
                                                 for: request)
        return await context.accepted(request, submitted, body: ["hold_id": .string(holdID), "job_id": .int(submitted.jobID)])
    }
}

/// `POST /v1/holds/{hold_id}/void` → `hold.void`, keyed `hold.void:<hold_id>`: release it all.
struct VoidHoldEndpoint: Endpoint {
    static let method = "POST"
    static let path = "/v1/holds/{hold_id}/void"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let holdID = try HoldPath.id(request)
        if !request.http.body.isEmpty { try request.fields().finish() }
        let submitted = try await context.submit(try IngressContext.job(HoldVoidJob.self, .init(hold_id: holdID), uniqueKey: "hold.void:\(holdID)"),
                                                 for: request)
        return await context.accepted(request, submitted, body: ["hold_id": .string(holdID), "job_id": .int(submitted.jobID)])
    }
}

/// `GET /v1/holds/{hold_id}` → `{hold_id, user_id, status, held, captured, reserved, expires_at, ended_at}`.
struct ShowHoldEndpoint: Endpoint {
    static let method = "GET"
    static let path = "/v1/holds/{hold_id}"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let holdID = try HoldPath.id(request)
        guard let hold = try await context.read(fromReplica: true, { c in try Hold.read(holdID, on: c) }) else { throw .notFound("no hold \(holdID)") }
        return .json(200, hold.json)
    }
}

enum HoldPath {
    /// The `{hold_id}` of the path: `hold_` and 24 hex digits, else 404 (no such hold can exist).
    static func id(_ request: EndpointRequest) throws(APIError) -> String {
        try request.prefixedID("hold_id", prefix: "hold_", what: "hold")
    }
}
