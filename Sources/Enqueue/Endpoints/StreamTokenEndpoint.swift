import Foundation
import HTTPServer
import Support

/// `POST /v1/accounts/{user_id}/stream-tokens {ttl_seconds?}` → 201 `{token, user_id,
/// expires_at}`: the app's backend (API key) gets a token its front end uses to open
/// `/v1/stream` for this user (DESIGN.md, "Stream tokens"). `ttl_seconds` defaults to 900, at
/// most 86,400. No database round trip (the key is cached); the account need not exist yet
/// (the stream answers 404 until it does).
struct CreateStreamTokenEndpoint: Endpoint {
    static let method = "POST"
    static let path = "/v1/accounts/{user_id}/stream-tokens"

    static let defaultTTL: Int64 = 900
    static let maxTTL: Int64 = 86_400

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let userID = request.parameter("user_id")
        try Fields.checkUserID(userID)
        var ttl = Self.defaultTTL
        if !request.http.body.isEmpty {
            var f = try request.fields()
            ttl = try f.optionalPositiveInt64("ttl_seconds", maximum: Self.maxTTL) ?? Self.defaultTTL
            try f.finish()
        }
        let key = try await context.streamKeys.current()
        let expiresAt = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + Double(ttl)).rounded(.down))
        let token = StreamToken.mint(userID: userID, expiresAt: expiresAt, key: key)
        return .json(201, ["token": .string(token), "user_id": .string(userID), "expires_at": .string(Timestamp.iso8601(expiresAt))])
    }
}
