import Dispatch
import Foundation
import FoundationNetworking

/// A failed call: which service, which request, what came back.
public struct HTTPError: Error, CustomStringConvertible, Sendable {
    public let service: String
    public let method: String
    /// The URL path (no query string, no host): never a credential.
    public let path: String
    /// nil when no answer came (connection refused, timeout).
    public let status: Int?
    public let detail: String
    public let timedOut: Bool

    public init(service: String, method: String, path: String, status: Int?, detail: String, timedOut: Bool = false) {
        self.service = service
        self.method = method
        self.path = path
        self.status = status
        self.detail = detail
        self.timedOut = timedOut
    }

    public var description: String {
        let what = status.map { "answered \($0)" } ?? "failed"
        return "\(service) \(method) \(path) \(what): \(detail)"
    }

    /// Worth trying again later: no answer, a timeout, 408, 409 (Stripe: a concurrent request
    /// with the same idempotency key), 429 or 5xx. Other 4xx mean the request itself is wrong.
    public var isRetryable: Bool {
        guard let status else { return true }
        return status == 408 || status == 409 || status == 429 || status >= 500
    }

    /// The start of a body, for messages (at most 300 characters, on one line).
    static func excerpt(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(300), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
        return text.isEmpty ? "(empty body)" : text + (body.count > 300 ? "…" : "")
    }

    /// A transport error without its URL (which could carry a query string).
    static func describe(_ error: any Error) -> String {
        if let e = error as? URLError {
            switch e.code {
            case .timedOut: return "timed out"
            case .cannotConnectToHost: return "could not connect"
            case .cannotFindHost, .dnsLookupFailed: return "unknown host"
            case .networkConnectionLost: return "the connection was lost"
            case .notConnectedToInternet: return "no network"
            case .cancelled: return "cancelled"
            default: return "URL error \(e.code.rawValue)"
            }
        }
        if error is CancellationError { return "cancelled" }
        return String(describing: type(of: error))
    }
}
