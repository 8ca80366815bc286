import HTTPServer
import Support

/// Who may read `/metrics` (the ingress's, and a worker's on TALLY_WORKER_METRICS_LISTEN).
public enum MetricsAccess {
    /// The connection's own address (never a header) is loopback, or it sends
    /// `Authorization: Bearer <token>` with the configured token.
    public static func allows(peer: PeerAddress?, authorization: String?, token: String?) -> Bool {
        if peer?.isLoopback == true { return true }
        guard let token, let authorization, authorization.hasPrefix("Bearer ") else { return false }
        return Crypto.constantTimeEquals(Array(authorization.dropFirst(7).utf8), Array(token.utf8))
    }
}
