import Foundation
import HTTPServer
import Support

/// Webhook signature checks (DESIGN.md, "Payments"). Both compare in constant time and over the
/// raw body bytes, never a re-serialisation.
public enum WebhookSignature {
    /// Secrets from a setting: several, comma-separated, for rotation (old and new both valid
    /// while the provider switches over).
    public static func secrets(_ setting: String?) -> [String] {
        (setting ?? "").split(separator: ",").map { String($0.trimmingSpaces) }.filter { !$0.isEmpty }
    }

    /// The secrets of a webhook route; 503 when none is set (the route is not configured here).
    public static func configured(_ secrets: [String], setting: String) throws(APIError) -> [String] {
        guard !secrets.isEmpty else { throw .unavailable("this webhook is not configured here: \(setting) is not set") }
        return secrets
    }

    /// Stripe's `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]`: v1 is the lowercase hex
    /// HMAC-SHA256, keyed with the whole secret string (`whsec_…`), of `"<t>.<raw body>"`. Any
    /// v1 may match any secret; `v0` and unknown schemes are ignored; a timestamp more than
    /// `tolerance` seconds away from this server's clock is refused, in either direction: an
    /// old one may be a replay, and a future one would stay replayable for as long as it is
    /// ahead (a signature made ten minutes ahead is a replay window of fifteen). Honest clocks
    /// drift by seconds, not minutes, so the same tolerance covers both.
    public static func verifyStripe(header: String?, body: [UInt8], secrets: [String], now: Date = Date(),
                                    tolerance: TimeInterval = 300) throws(APIError) {
        guard let header, !header.isEmpty else { throw .invalidSignature("missing Stripe-Signature header") }
        let parsed = TimestampedSignature.parse(header)
        guard let timestamp = parsed.timestamp else { throw .invalidSignature("Stripe-Signature has no valid t= timestamp") }
        guard !parsed.v1.isEmpty else { throw .invalidSignature("Stripe-Signature has no v1 signature") }
        guard TimestampedSignature.matches(parsed, body: body, secrets: secrets) else {
            throw .invalidSignature("no Stripe-Signature v1 value matches the body with any configured secret")
        }
        let offset = Double(timestamp) - now.timeIntervalSince1970
        guard abs(offset) <= tolerance else {
            let side = offset < 0 ? "behind" : "ahead of"
            let seconds = Int64(exactly: abs(offset).rounded(.down)) ?? Int64.max  // t may be any Int64
            throw .invalidSignature("the Stripe-Signature timestamp is out of tolerance: \(seconds) s \(side) this server's clock "
                                    + "(tolerance \(Int(tolerance)) s; a replay, or a clock far off)")
        }
    }

    /// BitGo's `X-Signature-SHA256`: the hex HMAC-SHA256 of the raw body keyed with the secret.
    /// Missing or wrong: 401.
    public static func verifyBitGo(header: String?, body: [UInt8], secrets: [String]) throws(APIError) {
        guard let header, !header.isEmpty else { throw .unauthorized("missing X-Signature-SHA256 header") }
        guard let given = Crypto.unhex(header.trimmingCharacters(in: .whitespaces)), given.count == 32 else {
            throw .unauthorized("X-Signature-SHA256 is not a hex SHA-256 HMAC")
        }
        var matched = false
        for secret in secrets where Crypto.constantTimeEquals(Crypto.hmacSHA256(key: Array(secret.utf8), message: body), given) {
            matched = true
        }
        guard matched else { throw .unauthorized("X-Signature-SHA256 does not match the body") }
    }
}
