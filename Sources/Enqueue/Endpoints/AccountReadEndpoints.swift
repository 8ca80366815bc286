import Foundation
import HTTPServer
import Jobs
import Postgres
import Support

/// `GET /v1/accounts/{user_id}` → the balance (computed when read), spendable grants and
/// subscription (`LedgerReads.account`); 404 without an account.
struct ShowAccountEndpoint: Endpoint {
    static let method = "GET"
    static let path = "/v1/accounts/{user_id}"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        try await UserRead.answer(request, context) { userID, _, c in try LedgerReads.account(userID, on: c) }
    }
}

/// `GET /v1/accounts/{user_id}/ledger?limit=&before=` → entries newest first and the
/// `next_before` cursor (`LedgerReads.ledger`).
struct ShowLedgerEndpoint: Endpoint {
    static let method = "GET"
    static let path = "/v1/accounts/{user_id}/ledger"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        try await UserRead.answer(request, context) { userID, page, c in
            try LedgerReads.ledger(userID, limit: page.limit, before: page.before, on: c)
        }
    }
}

/// `GET /v1/accounts/{user_id}/notifications?limit=&before=` → the user's inbox, newest first;
/// `?after=<seq>&limit=` → the notifications after that `seq`, oldest first (polling clients:
/// pass the last `seq` seen; nothing is skipped or repeated).
struct ListNotificationsEndpoint: Endpoint {
    static let method = "GET"
    static let path = "/v1/accounts/{user_id}/notifications"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        try await UserRead.answer(request, context) { userID, page, c in
            try Inbox.list(userID: userID, limit: page.limit, before: page.before, after: page.after, on: c)
        }
    }
}

/// What the account read endpoints share: the user id of the path, the paging of the query
/// string, one read, 404 when the user has no account.
enum UserRead {
    static func answer(_ request: EndpointRequest, _ context: IngressContext,
                       _ read: @escaping @Sendable (String, Paging, Connection) throws -> JSON?) async throws(APIError) -> HTTPResponse {
        let userID = request.parameter("user_id")
        try Fields.checkUserID(userID)
        let page = try Paging(request)
        guard let body = try await context.read(fromReplica: true, { c in try read(userID, page, c) }) else {
            throw .notFound("no account for user \(userID)")
        }
        return .json(200, body)
    }
}

/// `?limit=N&before=ID` of the list endpoints: limit 1…500 (default 50), before a positive id;
/// `after=SEQ` (notifications only), a seq of 0 or more, not with `before`.
struct Paging: Sendable {
    var limit = 50
    var before: Int64?
    var after: Int64?

    init(_ request: EndpointRequest) throws(APIError) {
        guard let items = request.http.queryItems else { throw .invalid("the query string has a malformed %-escape") }
        if let text = items["limit"] {
            guard let n = Int(text), (1...500).contains(n) else { throw .invalid("limit must be a whole number from 1 to 500") }
            limit = n
        }
        if let text = items["before"] {
            guard let n = Int64(text), n > 0 else { throw .invalid("before must be a positive entry id (the next_before of the previous page)") }
            before = n
        }
        if let text = items["after"] {
            guard let n = Int64(text), n >= 0 else { throw .invalid("after must be a seq, 0 or more (the last seq you have seen)") }
            guard before == nil else { throw .invalid("after or before, not both") }
            after = n
        }
    }
}
