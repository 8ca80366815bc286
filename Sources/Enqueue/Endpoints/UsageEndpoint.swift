import Foundation
import HTTPServer
import Jobs
import Queue
import Support

/// `POST /v1/usage {user_id, agent, units, idempotency_key}` → `usage.record`, keyed
/// `usage:<user_id>:<idempotency_key>`. With `Prefer: wait` a refusal answers 402/404.
struct RecordUsageEndpoint: Endpoint {
    static let method = "POST"
    static let path = "/v1/usage"
    /// TEST ONLY, never set in production: `TALLY_SIMULATE_PLANTED_BUG=usage-idempotency` makes
    /// every usage request a new one (its key gets a random suffix, so neither the job's key nor
    /// the ledger's reference recognises a retry). It exists so that `ops/simulate --planted-bug`
    /// shows the simulation's checker catching a double charge; nothing else reads it.
    static let plantedBug = ProcessInfo.processInfo.environment["TALLY_SIMULATE_PLANTED_BUG"] == "usage-idempotency"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        var f = try request.fields()
        let userID = try f.userID()
        let agent = try f.name("agent")
        // No charge may move more than 10^12 credits, so no more units either (at a price of 1).
        let units = try f.positiveInt64("units", maximum: Ledger.maxCredits)
        var key = try f.idempotencyKey()
        try f.finish()
        if Self.plantedBug { key += ":" + Crypto.randomHex(8) }
        return try await context.enqueue(request, UsageRecordJob.self,
                                         .init(user_id: userID, agent: agent, units: units, idempotency_key: key),
                                         uniqueKey: "usage:\(userID):\(key)")
    }
}

/// `POST /v1/activity {user_id, action, idempotency_key}` → `rewards.action`, keyed
/// `activity:<user_id>:<idempotency_key>`.
struct RecordActivityEndpoint: Endpoint {
    static let method = "POST"
    static let path = "/v1/activity"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        var f = try request.fields()
        let userID = try f.userID()
        let action = try f.name("action")
        let key = try f.idempotencyKey()
        try f.finish()
        return try await context.enqueue(request, RewardsActionJob.self, .init(user_id: userID, action: action, idempotency_key: key),
                                         uniqueKey: "activity:\(userID):\(key)")
    }
}
