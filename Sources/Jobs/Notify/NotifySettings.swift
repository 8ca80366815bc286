import Foundation
import Support

/// Notification delivery settings (docs/rewards-and-notifications.md), read once at start.
public struct NotifySettings: Sendable, Equatable {
    /// `TALLY_ENDPOINT_DISABLE_AFTER`: an endpoint that failed every delivery this long is disabled.
    public var endpointDisableAfter: TimeInterval
    /// `TALLY_NOTIFY_CONNECT_TIMEOUT`: connecting to an endpoint (and silence while waiting).
    public var connectTimeout: TimeInterval
    /// `TALLY_NOTIFY_TIMEOUT`: one whole delivery.
    public var totalTimeout: TimeInterval
    /// `TALLY_RETENTION_DELIVERIES`: delivery attempts are pruned after this (`notify.prune`).
    public var deliveryRetention: TimeInterval
    /// `TALLY_ENDPOINTS_ALLOW_PRIVATE=on`: endpoints may be loopback or private addresses
    /// (development and tests); off by default (`OutboundAddress`).
    public var allowPrivateEndpoints: Bool

    /// Every setting at its default (no environment).
    public static let defaults = try! NotifySettings(Environment([:]))  // no setting given: nothing to refuse

    public init(_ environment: Environment) throws {
        endpointDisableAfter = try environment.checkedDuration("TALLY_ENDPOINT_DISABLE_AFTER", default: 86400, minimum: 1)
        connectTimeout = try environment.checkedDuration("TALLY_NOTIFY_CONNECT_TIMEOUT", default: 5, minimum: 0.001)
        totalTimeout = try environment.checkedDuration("TALLY_NOTIFY_TIMEOUT", default: 10, minimum: 0.001)
        deliveryRetention = try environment.checkedDuration("TALLY_RETENTION_DELIVERIES", default: 30 * 86400)
        allowPrivateEndpoints = try Self.allowPrivate(environment)
    }

    /// `TALLY_ENDPOINTS_ALLOW_PRIVATE`: `on` or `off` (the default).
    public static func allowPrivate(_ environment: Environment) throws -> Bool {
        try environment.checkedSwitch("TALLY_ENDPOINTS_ALLOW_PRIVATE", default: false)
    }
}
