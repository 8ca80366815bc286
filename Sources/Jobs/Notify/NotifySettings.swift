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

    public static let defaults = NotifySettings(endpointDisableAfter: 86400, connectTimeout: 5, totalTimeout: 10,
                                                deliveryRetention: 30 * 86400)

    public init(endpointDisableAfter: TimeInterval, connectTimeout: TimeInterval, totalTimeout: TimeInterval, deliveryRetention: TimeInterval) {
        self.endpointDisableAfter = endpointDisableAfter
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.deliveryRetention = deliveryRetention
    }

    public init(_ environment: Environment) throws {
        let d = Self.defaults
        endpointDisableAfter = try environment.checkedDuration("TALLY_ENDPOINT_DISABLE_AFTER", default: d.endpointDisableAfter, minimum: 1)
        connectTimeout = try environment.checkedDuration("TALLY_NOTIFY_CONNECT_TIMEOUT", default: d.connectTimeout, minimum: 0.001)
        totalTimeout = try environment.checkedDuration("TALLY_NOTIFY_TIMEOUT", default: d.totalTimeout, minimum: 0.001)
        deliveryRetention = try environment.checkedDuration("TALLY_RETENTION_DELIVERIES", default: d.deliveryRetention)
    }
}
