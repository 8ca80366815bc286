import Foundation
import Support

/// `Tally-Signature: t=<unix>,v1=<hex>` on every notification POST (DESIGN.md,
/// "Notifications"): v1 is the lowercase hex HMAC-SHA256, keyed with the endpoint's whole
/// secret string, over `<t>.<body>` (the raw body bytes). The same scheme as Stripe's, so a
/// receiver checks it the same way: recompute, compare in constant time, refuse old timestamps.
public enum WebhookSignature {
    public static func header(secret: String, timestamp: Int64, body: [UInt8]) -> String {
        "t=\(timestamp),v1=\(v1(secret: secret, timestamp: timestamp, body: body))"
    }

    public static func v1(secret: String, timestamp: Int64, body: [UInt8]) -> String {
        Crypto.hmacSHA256Hex(key: secret, message: Array("\(timestamp).".utf8) + body)
    }

    /// What a receiver does: true when `header` carries a v1 signature of `body` by `secret`
    /// made within `tolerance` seconds of `now`.
    public static func verify(header: String, secret: String, body: [UInt8], now: Date = Date(), tolerance: TimeInterval = 300) -> Bool {
        var timestamp: Int64?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            let key = kv[0].trimmingCharacters(in: .whitespaces)
            if key == "t" { timestamp = Int64(kv[1]) } else if key == "v1" { signatures.append(String(kv[1])) }
        }
        guard let t = timestamp, abs(now.timeIntervalSince1970 - Double(t)) <= tolerance else { return false }
        let expected = Array(v1(secret: secret, timestamp: t, body: body).utf8)
        return signatures.contains { Crypto.constantTimeEquals(Array($0.utf8), expected) }
    }

    /// A new endpoint secret: `whsec_` and 32 random bytes in hex.
    public static func newSecret() -> String { "whsec_" + Crypto.randomHex(32) }
}
