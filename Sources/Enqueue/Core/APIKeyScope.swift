/// What a key may do (`tally apikey create NAME --scope read|all`; sql/0012).
public enum APIKeyScope: String, Sendable, CaseIterable {
    /// Everything an app does.
    case all
    /// Every GET, nothing else: dashboards, support tools, a front end that only shows.
    case read

    /// Whether a request with this method is within the scope.
    public func allows(method: String) -> Bool {
        switch self {
        case .all: true
        case .read: method == "GET" || method == "HEAD"
        }
    }
}

/// An authenticated key: its id and its scope.
public struct APIKeyIdentity: Sendable, Equatable {
    public let id: Int64
    public let scope: APIKeyScope
}
