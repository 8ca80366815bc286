import Foundation
import Support

/// The Stripe handlers' settings (docs/ledger.md, "Configuration"), read once at start. The
/// Stripe API's base and key (`STRIPE_API_BASE`, `STRIPE_SECRET_KEY`) are read where a call
/// needs them: most events need none, and a missing key is then the event's problem, named.
public struct StripeSettings: Sendable, Equatable {
    /// `TALLY_STRIPE_FLAG_AFTER`: how long an event waits for what it refers to before it is
    /// flagged to operators.
    public var flagAfter: TimeInterval

    /// Where a `stripe.event` job takes the event it applies from.
    public enum EventSource: String, Sendable, Equatable {
        /// The inbox row the ingress stored from the signed webhook (the default).
        case webhook
        /// Stripe's API, `GET /v1/events/{id}`, before applying: an inbox row Stripe did not
        /// send, or one changed after it was stored, grants nothing (DESIGN.md, "The ingress
        /// role can enqueue, not mint"). One API call per event, so top-ups are not batched.
        case api
    }

    /// `STRIPE_EVENT_SOURCE`: `webhook` or `api`.
    public var eventSource: EventSource

    /// Every setting at its default (no environment).
    public static let defaults = try! StripeSettings(Environment([:]))  // no setting given: nothing to refuse

    public init(_ environment: Environment) throws {
        flagAfter = try environment.checkedDuration("TALLY_STRIPE_FLAG_AFTER", default: 86400)
        let source = environment["STRIPE_EVENT_SOURCE"] ?? EventSource.webhook.rawValue
        guard let eventSource = EventSource(rawValue: source) else {
            throw ConfigurationError(setting: "STRIPE_EVENT_SOURCE", invalid: source, expected: "webhook or api")
        }
        self.eventSource = eventSource
    }
}
