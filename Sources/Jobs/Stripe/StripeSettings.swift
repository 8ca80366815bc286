import Foundation
import Support

/// The Stripe handlers' settings (docs/ledger.md, "Configuration"), read once at start. The
/// Stripe API's base and key (`STRIPE_API_BASE`, `STRIPE_SECRET_KEY`) are read where a call
/// needs them: most events need none, and a missing key is then the event's problem, named.
public struct StripeSettings: Sendable, Equatable {
    /// `TALLY_STRIPE_FLAG_AFTER`: how long an event waits for what it refers to before it is
    /// flagged to operators.
    public var flagAfter: TimeInterval

    /// Every setting at its default (no environment).
    public static let defaults = try! StripeSettings(Environment([:]))  // no setting given: nothing to refuse

    public init(_ environment: Environment) throws {
        flagAfter = try environment.checkedDuration("TALLY_STRIPE_FLAG_AFTER", default: 86400)
    }
}
