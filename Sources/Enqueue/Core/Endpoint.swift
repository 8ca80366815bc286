import Foundation
import HTTPServer
import Support

/// One HTTP endpoint: a method, a path pattern and what it does. Add one by writing a type in
/// `Endpoints/` and listing it in `Routes.all` (docs/ingress.md, "Adding an endpoint").
///
/// The router has already matched the path (404), the method (405) and, for `.apiKey`
/// endpoints, the API key (401) when `handle` runs: an endpoint validates (throw
/// `APIError.invalid`, 400), then enqueues through `context.submit` (which checks 409, 429
/// and 503 in DESIGN.md's order) or reads through `context.pool`, and answers.
public protocol Endpoint: Sendable {
    /// `GET`, `POST`, ...
    static var method: String { get }
    /// The path, with `{name}` for a parameter: `/v1/accounts/{user_id}/notifications/read`.
    static var path: String { get }
    /// Who may call it.
    static var access: Access { get }

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse
}

extension Endpoint {
    public static var access: Access { .apiKey }
}

public enum Access: Sendable {
    /// `Authorization: Bearer <api key>` (keys from `tally apikey create`).
    case apiKey
    /// No key: health checks, and webhooks that verify their own signature.
    case open
}

/// A request as an endpoint sees it.
public struct EndpointRequest: Sendable {
    public let http: HTTPRequest
    /// `{name}` parameters of the path, percent-decoded.
    public let parameters: [String: String]
    /// The API key that authenticated it (`.apiKey` endpoints).
    public let apiKeyID: Int64?

    public init(http: HTTPRequest, parameters: [String: String] = [:], apiKeyID: Int64? = nil) {
        self.http = http
        self.parameters = parameters
        self.apiKeyID = apiKeyID
    }

    public var body: [UInt8] { http.body }

    public func header(_ name: String) -> String? { http.header(name) }

    /// A path parameter the pattern guarantees.
    public func parameter(_ name: String) -> String { parameters[name] ?? "" }

    /// The body as a JSON object's fields (400 if it is not one).
    public func fields() throws(APIError) -> Fields { try Fields(body: http.body) }

    /// A path parameter that must be `prefix` and 24 hex digits (`PrefixedID`); else 404: no
    /// such `what` can exist.
    public func prefixedID(_ name: String, prefix: String, what: String) throws(APIError) -> String {
        let id = parameter(name)
        guard PrefixedID.isValid(id, prefix: prefix) else { throw .notFound("no \(what) \(id.prefix(64))") }
        return id
    }

    /// `Prefer: wait=N` (RFC 7240), capped at 30 s; 0 when absent. A malformed value is ignored,
    /// as RFC 7240 asks of preferences a server does not understand.
    public var preferWait: Int {
        guard let prefer = http.header("prefer") else { return 0 }
        for token in prefer.split(whereSeparator: { $0 == "," || $0 == ";" }) {
            let t = token.trimmingSpaces
            guard t.lowercased().hasPrefix("wait=") else { continue }
            guard let n = Int(t.dropFirst(5).trimmingSpaces), n >= 0 else { return 0 }
            return min(n, IngressContext.maxWaitSeconds)
        }
        return 0
    }
}
