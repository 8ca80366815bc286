import Foundation
import Support
import Synchronization

/// A stand-in for the Stripe API on 127.0.0.1, for what the worker reads from it: a checkout's
/// line items (`GET /v1/checkout/sessions/{id}/line_items`, the
/// `stripe/api.checkout_session_line_items.topup.json` fixture: one price with
/// `metadata.credits` 500) and an invoice's payments (`GET /v1/invoice_payments`, an empty
/// list), and the events it was given (`GET /v1/events/{id}`, for `STRIPE_EVENT_SOURCE=api`;
/// `publish` adds one, `failEvents` makes the next reads answer an error). Calls need the secret
/// key of `environment`; anything else is a 404 in Stripe's error shape.
public final class FakeStripe: Sendable {
    public static let secretKey = "sk_test_tally_dev_fake"
    public let server: FakeHTTPServer
    private let events = Mutex<(byID: [String: JSON], failures: [Int])>(([:], []))

    /// Stripe now knows `event` (by its `id`).
    public func publish(_ event: JSON) {
        guard let id = event["id"]?.string else { return }
        events.withLock { $0.byID[id] = event }
    }

    /// The next reads of events answer these statuses, one each, before answering again.
    public func failEvents(_ statuses: [Int]) {
        events.withLock { $0.failures += statuses }
    }

    public init(fixtures: FixtureDirectory) throws {
        server = try FakeHTTPServer()
        let lineItems = try fixtures.json("stripe/api.checkout_session_line_items.topup.json")
        server.handle { request in
            guard request.headers["authorization"] == "Bearer \(FakeStripe.secretKey)" else {
                return .init(status: 401, body: #"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided"}}"#)
            }
            let parts = request.path.split(separator: "/").map(String.init)
            switch (request.method, parts.count) {
            case ("GET", 5) where parts[0] == "v1" && parts[1] == "checkout" && parts[2] == "sessions" && parts[4] == "line_items":
                guard case .object(var o) = lineItems else { return nil }
                o["url"] = .string(request.path)
                return .init(body: JSON.object(o).serialized)
            case ("GET", 3) where parts[0] == "v1" && parts[1] == "events":
                let (event, failure): (JSON?, Int?) = self.events.withLock { state in
                    if !state.failures.isEmpty { return (nil, state.failures.removeFirst()) }
                    return (state.byID[parts[2]], nil)
                }
                if let failure { return .init(status: failure, body: #"{"error":{"type":"api_error","message":"Stripe is having a bad day"}}"#) }
                guard let event else {
                    return .init(status: 404, body: JSON.object(["error": ["type": "invalid_request_error", "code": "resource_missing",
                                                                          "message": .string("No such event: '\(parts[2])'")]]).serialized)
                }
                return .init(body: event.serialized)
            case ("GET", 2) where parts == ["v1", "invoice_payments"]:
                return .init(body: #"{"object":"list","data":[],"has_more":false,"url":"/v1/invoice_payments"}"#)
            default:
                let message = "Unrecognized request URL (\(request.method): \(request.path)). This stand-in answers line items and invoice payments only."
                return .init(status: 404, body: JSON.object(["error": ["type": "invalid_request_error", "message": .string(message)]]).serialized)
            }
        }
    }

    public var baseURL: String { server.baseURL }

    public var environment: [String: String] { ["STRIPE_API_BASE": baseURL, "STRIPE_SECRET_KEY": Self.secretKey] }
}
