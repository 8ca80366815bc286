import Foundation
import HTTPServer
import Support

/// A request as a console page sees it: its query, its form (a POST's urlencoded body), its
/// cookies, the path's `{name}` parameters and, once signed in, the operator's session.
public struct ConsoleRequest: Sendable {
    public let http: HTTPRequest
    public let parameters: [String: String]
    public let query: [String: String]
    public let form: [String: String]
    public let cookies: [String: String]
    public var session: OperatorSession?

    init(http: HTTPRequest, parameters: [String: String]) throws(ConsoleError) {
        self.http = http
        self.parameters = parameters
        guard let query = http.queryItems else { throw .badRequest("malformed query string") }
        self.query = query
        guard let form = ConsoleRequest.formFields(http.body) else { throw .badRequest("malformed form body") }
        self.form = form
        cookies = ConsoleRequest.cookies(http.header("cookie"))
    }

    /// The signed-in operator (routes that need one only run with it).
    public var operatorSession: OperatorSession {
        guard let session else { preconditionFailure("a signed-in route ran without a session") }
        return session
    }

    /// A query or form value, nil when absent or empty (an empty filter field means no filter).
    public func value(_ name: String) -> String? {
        let v = form[name] ?? query[name]
        return v?.isEmpty == false ? v : nil
    }

    /// `application/x-www-form-urlencoded` (what an HTML form posts), as the query is parsed.
    static func formFields(_ body: [UInt8]) -> [String: String]? {
        guard !body.isEmpty else { return [:] }
        return HTTPRequest(method: "POST", path: "/", query: String(decoding: body, as: UTF8.self)).queryItems
    }

    /// `Cookie: a=1; b=2`.
    static func cookies(_ header: String?) -> [String: String] {
        var out: [String: String] = [:]
        for part in (header ?? "").split(separator: ";") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            out[String(kv[0].trimmingSpaces)] = String(kv[1].trimmingSpaces)
        }
        return out
    }
}
