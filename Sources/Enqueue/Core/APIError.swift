import HTTPServer
import Support

/// An error answer: `{"error": "<code>", "message": "<human text>"}` plus, for a few, more
/// fields (`job_id`, `balance`, ...) and headers (`Retry-After`, `Allow`).
///
/// DESIGN.md fixes the codes and the order they are checked in: 431/413 (the parser), 404,
/// 405, 401, 400, 409, 429, 503. The router and `IngressContext.submit` check in that order;
/// an endpoint only validates (400) and leaves the rest to them.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String
    public var extra: [String: JSON] = [:]
    public var headers: [HTTPHeader] = []

    public init(status: Int, code: String, message: String, extra: [String: JSON] = [:], headers: [HTTPHeader] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
        self.headers = headers
    }

    public var description: String { "\(status) \(code): \(message)" }

    public var response: HTTPResponse {
        var body = extra
        body["error"] = .string(code)
        body["message"] = .string(message)
        return .json(status, .object(body), headers: headers)
    }

    public static func notFound(_ message: String = "no such endpoint") -> APIError {
        APIError(status: 404, code: "not_found", message: message)
    }

    public static func methodNotAllowed(_ allowed: [String]) -> APIError {
        APIError(status: 405, code: "method_not_allowed", message: "this path accepts \(allowed.joined(separator: ", "))",
                 headers: [HTTPHeader(name: "Allow", value: allowed.joined(separator: ", "))])
    }

    public static func unauthorized(_ message: String) -> APIError {
        APIError(status: 401, code: "unauthorized", message: message,
                 headers: [HTTPHeader(name: "WWW-Authenticate", value: "Bearer")])
    }

    /// 403: authenticated (or not needed) but not allowed to do this.
    public static func forbidden(_ message: String) -> APIError {
        APIError(status: 403, code: "forbidden", message: message)
    }

    /// 400: the request is malformed or a field is missing, of the wrong type or out of range.
    public static func invalid(_ message: String) -> APIError {
        APIError(status: 400, code: "invalid_request", message: message)
    }

    public static func invalidSignature(_ message: String) -> APIError {
        APIError(status: 400, code: "invalid_signature", message: message)
    }

    public static func idempotencyConflict(_ message: String) -> APIError {
        APIError(status: 409, code: "idempotency_conflict", message: message)
    }

    public static func rateLimited(retryAfter seconds: Int) -> APIError {
        APIError(status: 429, code: "rate_limited", message: "too many requests for this API key; retry after \(seconds) s",
                 headers: [HTTPHeader(name: "Retry-After", value: String(seconds))])
    }

    /// 503: the request could not be made durable (PostgreSQL unreachable) or the route is
    /// not configured. The sender retries.
    public static func unavailable(_ message: String) -> APIError {
        APIError(status: 503, code: "unavailable", message: message, headers: [HTTPHeader(name: "Retry-After", value: "1")])
    }
}
