import Foundation
import Jobs
import Support

/// `GET /v1/accounts/{user_id}` → the balance (computed when read), spendable grants and
/// subscription (`LedgerReads.account`); 404 without an account.
struct ShowAccountEndpoint: Endpoint {
    static let method = "GET"
    static let path = "/v1/accounts/{user_id}"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let userID = request.parameter("user_id")
        try Fields.checkUserID(userID)
        guard let account = try await context.read({ c in try LedgerReads.account(userID, on: c) }) else {
            throw .notFound("no account for user \(userID)")
        }
        return .json(200, account)
    }
}

/// `GET /v1/accounts/{user_id}/ledger?limit=&before=` → entries newest first and the
/// `next_before` cursor (`LedgerReads.ledger`).
struct ShowLedgerEndpoint: Endpoint {
    static let method = "GET"
    static let path = "/v1/accounts/{user_id}/ledger"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let userID = request.parameter("user_id")
        try Fields.checkUserID(userID)
        let (limit, before) = try Paging.parse(request)
        guard let ledger = try await context.read({ c in try LedgerReads.ledger(userID, limit: limit, before: before, on: c) }) else {
            throw .notFound("no account for user \(userID)")
        }
        return .json(200, ledger)
    }
}

/// `GET /v1/accounts/{user_id}/notifications?limit=&before=` → the user's inbox, newest first.
struct ListNotificationsEndpoint: Endpoint {
    static let method = "GET"
    static let path = "/v1/accounts/{user_id}/notifications"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let userID = request.parameter("user_id")
        try Fields.checkUserID(userID)
        let (limit, before) = try Paging.parse(request)
        guard let inbox = try await context.read({ c in try Inbox.list(userID: userID, limit: limit, before: before, on: c) }) else {
            throw .notFound("no account for user \(userID)")
        }
        return .json(200, inbox)
    }
}

/// `?limit=N&before=ID` of the list endpoints: limit 1…500 (default 50), before a positive id.
enum Paging {
    static func parse(_ request: EndpointRequest) throws(APIError) -> (limit: Int, before: Int64?) {
        guard let items = request.http.queryItems else { throw .invalid("the query string has a malformed %-escape") }
        var limit = 50
        if let text = items["limit"] {
            guard let n = Int(text), (1...500).contains(n) else { throw .invalid("limit must be a whole number from 1 to 500") }
            limit = n
        }
        var before: Int64?
        if let text = items["before"] {
            guard let n = Int64(text), n > 0 else { throw .invalid("before must be a positive entry id (the next_before of the previous page)") }
            before = n
        }
        return (limit, before)
    }
}
