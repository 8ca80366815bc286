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
    /// Payment intents made (by id) and their ids by the Idempotency-Key that made them; the
    /// outcome the next ones get (`decline`, `authentication_required` or nil: succeeded).
    private let intents = Mutex<(byID: [String: JSON], byKey: [String: String], next: [String])>(([:], [:], []))

    /// The next `POST /v1/payment_intents` answer these: "decline" (402 card_declined),
    /// "authentication_required" (402), one each, before succeeding again.
    public func failPaymentIntents(_ outcomes: [String]) {
        intents.withLock { $0.next += outcomes }
    }

    /// The payment intents made so far, in the order made.
    public var paymentIntents: [JSON] {
        intents.withLock { s in s.byID.values.sorted { ($0["created"]?.int64 ?? 0, $0["id"]?.string ?? "") < ($1["created"]?.int64 ?? 0, $1["id"]?.string ?? "") } }
    }

    /// Stripe's `payment_intent.succeeded` for a payment intent this stand-in made.
    public func succeededEvent(for intent: JSON, eventID: String) -> JSON {
        ["id": .string(eventID), "object": "event", "type": "payment_intent.succeeded", "api_version": "2025-03-31.basil",
         "created": .int(Int64(Date().timeIntervalSince1970)), "data": ["object": intent]]
    }

    /// A checkout's payment intent whose payment method was saved (`GET /v1/payment_intents/{id}`).
    public func savePaymentIntent(_ id: String, customer: String, paymentMethod: String) {
        intents.withLock { $0.byID[id] = ["id": .string(id), "object": "payment_intent", "customer": .string(customer),
                                          "payment_method": .string(paymentMethod), "setup_future_usage": "off_session", "status": "succeeded",
                                          "created": 0] }
    }

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
            case ("POST", 2) where parts == ["v1", "payment_intents"]:
                return self.createPaymentIntent(request)
            case ("GET", 3) where parts[0] == "v1" && parts[1] == "payment_intents":
                guard let intent = self.intents.withLock({ $0.byID[parts[2]] }) else {
                    return .init(status: 404, body: #"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such payment_intent"}}"#)
                }
                return .init(body: intent.serialized)
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

    /// `POST /v1/payment_intents` (form fields): the same Idempotency-Key gets the same intent,
    /// as Stripe's does.
    private func createPaymentIntent(_ request: FakeHTTPServer.Request) -> FakeHTTPServer.Response {
        var fields: [String: String] = [:]
        for pair in request.bodyText.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            if kv.count == 2 { fields[kv[0]] = kv[1] }
        }
        let key = request.headers["idempotency-key"] ?? ""
        return intents.withLock { s in
            if let id = s.byKey[key], let existing = s.byID[id] { return .init(body: existing.serialized) }
            let outcome = s.next.isEmpty ? nil : s.next.removeFirst()
            let id = "pi_fake_\(s.byID.count + 1)"
            var metadata: [String: JSON] = [:]
            for (k, v) in fields where k.hasPrefix("metadata[") && k.hasSuffix("]") { metadata[String(k.dropFirst(9).dropLast())] = .string(v) }
            let amount = Int64(fields["amount"] ?? "") ?? 0
            var intent: [String: JSON] = ["id": .string(id), "object": "payment_intent", "amount": .int(amount), "amount_received": .int(amount),
                                          "currency": .string(fields["currency"] ?? "usd"), "customer": .optional(fields["customer"]),
                                          "payment_method": .optional(fields["payment_method"]), "metadata": .object(metadata),
                                          "latest_charge": .string("ch_fake_\(s.byID.count + 1)"), "created": .int(Int64(s.byID.count + 1)),
                                          "status": "succeeded"]
            switch outcome {
            case "decline"?:
                intent["status"] = "requires_payment_method"
                s.byID[id] = .object(intent)
                s.byKey[key] = id
                return .init(status: 402, body: JSON.object(["error": ["type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
                                                                       "message": "Your card has insufficient funds.", "payment_intent": .object(intent)]]).serialized)
            case "authentication_required"?:
                intent["status"] = "requires_action"
                s.byID[id] = .object(intent)
                s.byKey[key] = id
                return .init(status: 402, body: JSON.object(["error": ["type": "card_error", "code": "authentication_required",
                                                                       "message": "This payment requires authentication.", "payment_intent": .object(intent)]]).serialized)
            default:
                s.byID[id] = .object(intent)
                s.byKey[key] = id
                return .init(body: JSON.object(intent).serialized)
            }
        }
    }
}
