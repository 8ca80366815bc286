import Foundation
import JobRuntime
import Postgres
import Queue
import Support
import Synchronization

/// `notify.deliver {"notification_id", "endpoint_id"}`: POSTs one notification to one
/// registered endpoint (DESIGN.md, "Notifications"). Enqueued by `Inbox.write` in the
/// transaction that writes the notification, one job per enabled endpoint.
///
/// The body is `{"id", "type", "user_id", "created_at", "payload"}` (keys sorted), signed with
/// `Tally-Signature: t=<unix>,v1=<hex HMAC-SHA256 keyed with the endpoint's secret over
/// "<t>.<body>">` (a fresh `t` each attempt), with `Idempotency-Key:
/// notify:<notification>:<endpoint>` (the same on every attempt) through the shared `HTTPClient`.
/// A 2xx answer delivers it; anything else (another status, no answer, a timeout) is a failed
/// attempt, retried with the queue's backoff (attempt⁴ s ± 10 %, × TALLY_BACKOFF_SCALE) up to 20
/// attempts. Every attempt writes a `notify_deliveries` row.
///
/// An endpoint that has failed every attempt for `TALLY_ENDPOINT_DISABLE_AFTER` (default 1d)
/// is disabled until an operator enables it; its pending deliveries are then discarded (after
/// `tally endpoints enable ID`, `tally jobs retry --state discarded --kind notify.deliver`
/// sends them). A removed endpoint's pending deliveries complete as skipped.
public struct NotifyDeliverJob: Job {
    public struct Args: Codable, Sendable {
        public let notification_id: Int64
        public let endpoint_id: Int64
    }

    public static let kind = "notify.deliver"
    public static let queue = "notify"
    public static let maxAttempts = 20
    public static let timeout: TimeInterval = 60

    let settings: NotifySettings

    public init(settings: NotifySettings = .defaults) {
        self.settings = settings
    }

    struct DeliveryFailed: Error, CustomStringConvertible {
        let description: String
    }

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let target = try await context.pool.withConnection { c in
            try c.query(NotifyQueries.delivery, [args.endpoint_id, args.notification_id]).first.map(Target.init)
        }
        guard let target else {
            // The endpoint row is kept when removed, notifications are never deleted: a missing
            // one means the job was enqueued by hand with wrong ids.
            throw JobError.permanent("no endpoint \(args.endpoint_id) or no notification \(args.notification_id)")
        }
        if target.removed { return .completed(["skipped": "endpoint_removed", "endpoint_id": .int(args.endpoint_id)]) }
        guard target.enabled else {
            throw JobError.permanent("endpoint \(args.endpoint_id) is disabled: after `tally endpoints enable \(args.endpoint_id)`, "
                                     + "`tally jobs retry --state discarded --kind notify.deliver` sends what it missed")
        }
        let body = Array(target.body.serialized.utf8)
        let signature = TimestampedSignature.header(secret: target.secret, timestamp: Int64(Date().timeIntervalSince1970), body: body)
        // Outside the `do` below, whose catch turns every error into a retryable failed
        // delivery: an endpoint URL the client cannot use fails the same way on every attempt,
        // so its `JobError.permanent` must reach the queue as it is (discarded at once).
        let client = try Self.client(for: target.url, settings: settings)
        let started = Date()
        var status: Int?
        var failure: String?
        do {
            // After DNS, every time: a name that resolves to a private or metadata address now
            // is refused, not called (a failed delivery like any other).
            if !settings.allowPrivateEndpoints { try await OutboundAddress.check(host: client.host) }
            let response = try await client.exchange(
                method: "POST", path: client.path, query: client.query, body: body,
                headers: ["Content-Type": "application/json", "Tally-Signature": signature],
                idempotencyKey: "notify:\(args.notification_id):\(args.endpoint_id)")
            status = response.status
            if !(200..<300).contains(response.status) {
                failure = "endpoint \(args.endpoint_id) answered \(response.status)"
            }
        } catch {
            failure = "endpoint \(args.endpoint_id): \(error)"
        }
        let ms = Int(Date().timeIntervalSince(started) * 1000)
        let job = context.job
        let log: [any PostgresEncodable] = [args.endpoint_id, args.notification_id, job.id, job.attempt, failure == nil, status, failure, ms]
        guard let failure else {
            let status = status ?? 0
            return try await context.completeInTransaction { tx in
                try tx.query(NotifyQueries.logAttempt, log)
                try tx.query(NotifyQueries.recordSuccess, [args.endpoint_id])
                return ["endpoint_id": .int(args.endpoint_id), "notification_id": .int(args.notification_id), "status": .int(status),
                        "ms": .int(ms)]
            }
        }
        let disableAfter = settings.endpointDisableAfter
        let reason = "failed every delivery for \(DurationText.format(disableAfter)) (last: \(failure))"
        let stillEnabled = try await context.pool.transaction { tx in
            try tx.query(NotifyQueries.logAttempt, log)
            return try tx.query(NotifyQueries.recordFailure, [args.endpoint_id, Int64(disableAfter * 1000), reason]).first?.bool("enabled") ?? false
        }
        if !stillEnabled {
            Log.warn("notification endpoint disabled", ["endpoint_id": args.endpoint_id, "reason": reason])
            throw JobError.permanent("\(failure); endpoint \(args.endpoint_id) is now disabled: \(reason)")
        }
        throw DeliveryFailed(description: failure)
    }

    /// The endpoint and the notification of one delivery.
    struct Target {
        let url: String
        let secret: String
        let enabled: Bool
        let removed: Bool
        let body: JSON

        init(row: Row) throws {
            url = try row.string("url")
            secret = try row.string("secret")
            enabled = try row.bool("enabled")
            removed = try row.bool("removed")
            body = ["id": .int(try row.int64("id")), "type": .string(try row.string("type")), "user_id": .string(try row.string("user_id")),
                    "created_at": .string(Timestamp.iso8601(try row.date("created_at"))), "payload": try row.json("payload")]
        }
    }

    /// An endpoint URL as the shared client takes it: a client per origin (kept, so
    /// connections are reused across deliveries), and the path and query of the URL.
    struct EndpointClient {
        let client: HTTPClient
        /// The URL's host as written (a name, or a numeric address, IPv6 in brackets).
        let host: String
        let path: String
        let query: [(String, String)]

        func exchange(method: String, path: String, query: [(String, String)], body: [UInt8], headers: [String: String],
                      idempotencyKey: String) async throws -> HTTPClientResponse {
            try await client.exchange(method: method, path: path, query: query, body: body, headers: headers, idempotencyKey: idempotencyKey)
        }
    }

    private static let clients = Mutex<[String: HTTPClient]>([:])

    static func client(for url: String, settings: NotifySettings) throws -> EndpointClient {
        guard let components = URLComponents(string: url), let scheme = components.scheme, scheme == "http" || scheme == "https",
              let host = components.host, !host.isEmpty else {
            throw JobError.permanent("endpoint URL is not an http(s) URL with a host: \(url); remove the endpoint "
                                     + "(`tally endpoints remove ID`) and add it again with a URL the receiver answers on")
        }
        let origin = "\(scheme)://\(host.contains(":") ? "[\(host)]" : host)" + (components.port.map { ":\($0)" } ?? "")
        let client = try clients.withLock { cache -> HTTPClient in
            if let c = cache[origin] { return c }
            guard let base = URL(string: origin) else { throw JobError.permanent("endpoint URL has no usable origin: \(url)") }
            let c = HTTPClient(service: "notification endpoint", baseURL: base,
                               connectTimeout: settings.connectTimeout, totalTimeout: settings.totalTimeout)
            cache[origin] = c
            return c
        }
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        let query = (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }
        return EndpointClient(client: client, host: host, path: path, query: query)
    }
}
