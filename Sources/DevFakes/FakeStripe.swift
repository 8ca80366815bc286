import Foundation
import Support

/// A stand-in for the Stripe API on 127.0.0.1, for what the worker reads from it: a checkout's
/// line items (`GET /v1/checkout/sessions/{id}/line_items`, the
/// `stripe/api.checkout_session_line_items.topup.json` fixture: one price with
/// `metadata.credits` 500) and an invoice's payments (`GET /v1/invoice_payments`, an empty
/// list). Calls need the secret key of `environment`; anything else is a 404 in Stripe's error
/// shape.
public final class FakeStripe: Sendable {
    public static let secretKey = "sk_test_tally_dev_fake"
    public let server: FakeHTTPServer

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
