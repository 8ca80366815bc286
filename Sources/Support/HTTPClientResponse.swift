import Dispatch
import Foundation
import FoundationNetworking

/// An answer to a request of `HTTPClient`, the outbound client (the answers the HTTP server
/// writes are `HTTPResponse`).
public struct HTTPClientResponse: Sendable {
    public let status: Int
    /// Header names in lowercase.
    public let headers: [String: String]
    public let body: [UInt8]

    public init(status: Int, headers: [String: String], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func json() throws -> JSON {
        do { return try JSON.parse(body) } catch {
            throw HTTPError(service: "?", method: "?", path: "?", status: status, detail: "the answer is not JSON: \(error)")
        }
    }
}
