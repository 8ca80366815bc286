import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The one outbound HTTP client (DESIGN.md, "Payments": Stripe API, BitGo, CoinGecko, app
/// endpoints). One per service, made from the service's settings:
///
/// ```swift
/// let stripe = HTTPClient(service: "Stripe", baseURL: url, headers: ["Authorization": "Bearer \(key)"])
/// let items = try await stripe.getJSON("/v1/checkout/sessions/\(id)/line_items", query: [("expand[]", "data.price")])
/// let address = try await bitgo.postJSON("/api/v2/btc/wallet/\(w)/address", body: [:], idempotencyKey: "quote:\(id)")
/// ```
///
/// - Timeouts: `connectTimeout` bounds the wait for a connection and for each byte of the
///   answer (URLSession's inactivity timeout, which on Linux also covers the connect); the
///   whole exchange is cut at `totalTimeout` however the server dribbles.
/// - JSON in and out, parsed with `JSON` (numbers stay exact text, never `Double`).
/// - Every POST carries an `Idempotency-Key` (the parameter is required), so a retried job
///   never makes the other side act twice.
/// - Errors (`HTTPError`) name the service, method, URL path and status, with the start of the
///   answer's body; headers (credentials) and query strings are never logged or put in errors.
///
/// - Redirects are never followed: a 3xx is an answer like any other non-2xx (`HTTPError`), so
///   a notification endpoint that passed the address check cannot bounce a call to a private
///   or metadata address (DESIGN.md, "The security model").
///
/// FoundationNetworking's URLSession (libcurl underneath) suspends instead of blocking, so
/// calls are fine from async job code; against a one-write local server it made ~1,500
/// requests/s (SWIFT-ON-LINUX.md).
public final class HTTPClient: Sendable {
    public let service: String
    public let baseURL: URL
    public let connectTimeout: TimeInterval
    public let totalTimeout: TimeInterval
    private let headers: [String: String]
    private let session: URLSession

    public init(service: String, baseURL: URL, headers: [String: String] = [:], connectTimeout: TimeInterval = 5,
                totalTimeout: TimeInterval = 30) {
        self.service = service
        self.baseURL = baseURL
        self.headers = headers
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = connectTimeout
        configuration.timeoutIntervalForResource = totalTimeout
        configuration.httpMaximumConnectionsPerHost = 8
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }

    deinit { session.finishTasksAndInvalidate() }

    /// A client for a service from its settings: the base URL (`baseSetting`, else
    /// `defaultBase`), and the credential `credentialSetting` sent as `Authorization: Bearer`.
    /// Throws `ConfigurationError` naming the missing setting.
    public static func fromEnvironment(_ environment: Environment, service: String, baseSetting: String, defaultBase: String?,
                                       credentialSetting: String?, purpose: String) throws -> HTTPClient {
        guard let base = environment[baseSetting] ?? defaultBase else {
            throw ConfigurationError(setting: baseSetting, purpose: purpose)
        }
        guard let url = URL(string: base), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw ConfigurationError(setting: baseSetting, purpose: "\(purpose) (an http(s) URL; got \"\(base)\")")
        }
        var headers: [String: String] = [:]
        if let credentialSetting {
            headers["Authorization"] = "Bearer " + (try environment.require(credentialSetting, for: purpose))
        }
        return HTTPClient(service: service, baseURL: url, headers: headers,
                          connectTimeout: environment.duration("TALLY_HTTP_CONNECT_TIMEOUT", default: 5),
                          totalTimeout: environment.duration("TALLY_HTTP_TIMEOUT", default: 30))
    }

    // MARK: JSON calls

    /// GET a JSON document; a status other than 2xx throws `HTTPError`.
    public func getJSON(_ path: String, query: [(String, String)] = [], headers extra: [String: String] = [:]) async throws -> JSON {
        try await send(method: "GET", path: path, query: query, body: nil, headers: extra).json()
    }

    /// POST a JSON body with an idempotency key; a status other than 2xx throws `HTTPError`.
    public func postJSON(_ path: String, body: JSON, idempotencyKey: String, headers extra: [String: String] = [:]) async throws -> JSON {
        var h = extra
        h["Content-Type"] = "application/json"
        return try await send(method: "POST", path: path, query: [], body: Array(body.serialized.utf8), headers: h,
                              idempotencyKey: idempotencyKey).json()
    }

    /// POST a form (`application/x-www-form-urlencoded`, what Stripe's API takes) with an
    /// idempotency key; a status other than 2xx throws `HTTPError`.
    public func postForm(_ path: String, fields: [(String, String)], idempotencyKey: String) async throws -> JSON {
        try await send(method: "POST", path: path, body: Self.formBody(fields),
                       headers: ["Content-Type": "application/x-www-form-urlencoded"], idempotencyKey: idempotencyKey).json()
    }

    /// The same, answering whatever the status (a caller that reads Stripe's error bodies).
    public func exchangeForm(_ path: String, fields: [(String, String)], idempotencyKey: String) async throws -> HTTPClientResponse {
        try await exchange(method: "POST", path: path, body: Self.formBody(fields),
                           headers: ["Content-Type": "application/x-www-form-urlencoded"], idempotencyKey: idempotencyKey)
    }

    static func formBody(_ fields: [(String, String)]) -> [UInt8] {
        Array(fields.map { formEncode($0.0) + "=" + formEncode($0.1) }.joined(separator: "&").utf8)
    }

    // MARK: Any call

    /// Sends one request and returns the answer if its status is 2xx; throws `HTTPError`
    /// otherwise (or when the exchange fails or times out). A POST must carry `idempotencyKey`.
    public func send(method: String, path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
                     headers extra: [String: String] = [:], idempotencyKey: String? = nil) async throws -> HTTPClientResponse {
        let response = try await exchange(method: method, path: path, query: query, body: body, headers: extra, idempotencyKey: idempotencyKey)
        guard (200..<300).contains(response.status) else {
            throw HTTPError(service: service, method: method, path: path, status: response.status,
                            detail: HTTPError.excerpt(response.body))
        }
        return response
    }

    /// Sends one request and returns the answer whatever its status.
    public func exchange(method: String, path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
                         headers extra: [String: String] = [:], idempotencyKey: String? = nil) async throws -> HTTPClientResponse {
        if method == "POST" && (idempotencyKey ?? "").isEmpty {
            throw HTTPError(service: service, method: method, path: path, status: nil,
                            detail: "a POST needs an idempotency key (the caller's bug)")
        }
        let request = try makeRequest(method: method, path: path, query: query, body: body, headers: extra, idempotencyKey: idempotencyKey)
        let service = self.service
        let session = self.session
        let total = totalTimeout
        do {
            return try await withThrowingTaskGroup(of: HTTPClientResponse?.self) { group in
                group.addTask {
                    let (data, response) = try await session.data(for: request)
                    guard let http = response as? HTTPURLResponse else {
                        throw HTTPError(service: service, method: method, path: path, status: nil, detail: "the answer is not HTTP")
                    }
                    var headers: [String: String] = [:]
                    for (k, v) in http.allHeaderFields {
                        if let k = k as? String, let v = v as? String { headers[k.lowercased()] = v }
                    }
                    return HTTPClientResponse(status: http.statusCode, headers: headers, body: [UInt8](data))
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(Int(total * 1000)))
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let response = first else {
                    throw HTTPError(service: service, method: method, path: path, status: nil,
                                    detail: "no complete answer within \(DurationText.format(total))", timedOut: true)
                }
                return response
            }
        } catch let error as HTTPError {
            throw error
        } catch {
            throw HTTPError(service: service, method: method, path: path, status: nil, detail: HTTPError.describe(error),
                            timedOut: (error as? URLError)?.code == .timedOut)
        }
    }

    /// The URL a call to `path` with `query` goes to: the base URL's path, then `path`.
    public func url(_ path: String, query: [(String, String)] = [], method: String = "GET") throws -> URL {
        guard path.hasPrefix("/"), var components = URLComponents(url: baseURL, resolvingAgainstBaseURL: false) else {
            throw HTTPError(service: service, method: method, path: path, status: nil, detail: "the path must start with /")
        }
        let basePath = components.percentEncodedPath.hasSuffix("/") ? String(components.percentEncodedPath.dropLast()) : components.percentEncodedPath
        components.percentEncodedPath = basePath + path
        if !query.isEmpty {
            components.percentEncodedQuery = query.map { Self.formEncode($0.0) + "=" + Self.formEncode($0.1) }.joined(separator: "&")
        }
        guard let url = components.url else {
            throw HTTPError(service: service, method: method, path: path, status: nil, detail: "cannot make a URL of the path")
        }
        return url
    }

    private func makeRequest(method: String, path: String, query: [(String, String)], body: [UInt8]?,
                             headers extra: [String: String], idempotencyKey: String?) throws -> URLRequest {
        var request = URLRequest(url: try url(path, query: query, method: method))
        request.httpMethod = method
        request.timeoutInterval = connectTimeout
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        request.setValue("tally", forHTTPHeaderField: "User-Agent")
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        for (k, v) in extra { request.setValue(v, forHTTPHeaderField: k) }
        if let idempotencyKey { request.setValue(idempotencyKey, forHTTPHeaderField: "Idempotency-Key") }
        if let body { request.httpBody = Data(body) }
        return request
    }

    /// application/x-www-form-urlencoded escaping (also right for query strings): unreserved
    /// characters stay, everything else is %XX (so `expand[]` becomes `expand%5B%5D`).
    public static func formEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = String(b, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}

/// Refuses every redirect (the 3xx comes back as the answer). Only a session-wide delegate does
/// this on Linux: a task created with a completion handler (what `data(for:)` uses) follows
/// redirects unless the session has a delegate (checked on Swift 6.3.1: with this delegate a
/// 302 comes back as 302).
private final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}
