import HTTPServer
import Jobs
import Queue
import Support

/// `POST /v1/accounts {user_id, referral_code?}` → `account.open`, once per user: the key is
/// `account:<user_id>`, so opening twice answers the same job (a different referral code, 409).
struct OpenAccountEndpoint: Endpoint {
    static let method = "POST"
    static let path = "/v1/accounts"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        var f = try request.fields()
        let userID = try f.userID()
        let referral = try f.optionalString("referral_code", maxBytes: 64)
        try f.finish()
        return try await context.enqueue(request, AccountOpenJob.self, .init(user_id: userID, referral_code: referral),
                                         uniqueKey: "account:\(userID)")
    }
}

/// `POST /v1/accounts/{user_id}/notifications/read {ids}` → `notify.read`.
struct MarkNotificationsReadEndpoint: Endpoint {
    static let method = "POST"
    static let path = "/v1/accounts/{user_id}/notifications/read"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let userID = request.parameter("user_id")
        try Fields.checkUserID(userID)
        var f = try request.fields()
        let ids = try f.positiveInt64Array("ids", maxCount: 1000)
        try f.finish()
        return try await context.enqueue(request, NotifyReadJob.self, .init(user_id: userID, ids: ids))
    }
}

/// `PUT /v1/accounts/{user_id}/alerts {low_balance}` → `account.alerts`: the account's own
/// low-balance threshold (`null`: back to TALLY_LOW_BALANCE). 202 `{job_id}`.
struct SetAlertsEndpoint: Endpoint {
    static let method = "PUT"
    static let path = "/v1/accounts/{user_id}/alerts"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let userID = request.parameter("user_id")
        try Fields.checkUserID(userID)
        var f = try request.fields()
        let low = try f.optionalNonNegativeInt64("low_balance", maximum: Ledger.maxCredits)
        try f.finish()
        return try await context.enqueue(request, AccountAlertsJob.self, .init(user_id: userID, low_balance: low))
    }
}

/// `PUT /v1/accounts/{user_id}/auto-topup {enabled, threshold, product, monthly_limit_cents}` →
/// `account.auto_topup`. 202 `{job_id}`; with `Prefer: wait`, the setting (a product that does
/// not exist or is a subscription fails the job, named).
struct SetAutoTopupEndpoint: Endpoint {
    static let method = "PUT"
    static let path = "/v1/accounts/{user_id}/auto-topup"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let userID = request.parameter("user_id")
        try Fields.checkUserID(userID)
        var f = try request.fields()
        guard let enabled = try f.optionalBool("enabled") else { throw .invalid("enabled is required (true or false)") }
        let threshold = try f.optionalNonNegativeInt64("threshold", maximum: Ledger.maxCredits)
        let product = try f.optionalString("product", maxBytes: 64)
        let limit = try f.optionalNonNegativeInt64("monthly_limit_cents", maximum: Ledger.maxCredits)
        try f.finish()
        if enabled && (threshold == nil || product == nil || limit == nil) {
            throw .invalid("enabled: true needs threshold, product and monthly_limit_cents")
        }
        return try await context.enqueue(request, AccountAutoTopupJob.self,
                                         .init(user_id: userID, enabled: enabled, threshold: threshold, product: product, monthly_limit_cents: limit))
    }
}
