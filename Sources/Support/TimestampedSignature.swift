import Foundation

/// The `t=<unix>,v1=<hex>` signature scheme Stripe uses for its webhooks and Tally uses for its
/// own notification POSTs (`Tally-Signature`): v1 is the lowercase hex HMAC-SHA256, keyed with
/// the whole secret string, over `"<t>.<raw body bytes>"`. One implementation for signing,
/// parsing and checking, so the two directions cannot drift apart.
public enum TimestampedSignature {
    /// A header's timestamp (the first `t=`) and every well-formed v1 signature; `v0` and
    /// unknown schemes are ignored.
    public struct Parsed: Sendable {
        public let timestamp: Int64?
        public let v1: [[UInt8]]
    }

    public static func parse(_ header: String) -> Parsed {
        var timestamp: Int64?
        var signatures: [[UInt8]] = []
        for part in header.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            let key = kv[0].trimmingCharacters(in: .whitespaces), value = kv[1].trimmingCharacters(in: .whitespaces)
            if key == "t", timestamp == nil {
                timestamp = Int64(value)
            } else if key == "v1", let bytes = Crypto.unhex(value), bytes.count == 32 {
                signatures.append(bytes)
            }
        }
        return Parsed(timestamp: timestamp, v1: signatures)
    }

    public static func v1(secret: String, timestamp: Int64, body: [UInt8]) -> [UInt8] {
        Crypto.hmacSHA256(key: Array(secret.utf8), message: Array("\(timestamp).".utf8) + body)
    }

    public static func header(secret: String, timestamp: Int64, body: [UInt8]) -> String {
        "t=\(timestamp),v1=\(Crypto.hex(v1(secret: secret, timestamp: timestamp, body: body)))"
    }

    /// True when any v1 of `parsed` is a signature of `body` by any of `secrets`, compared in
    /// constant time. The timestamp's age is the caller's rule.
    public static func matches(_ parsed: Parsed, body: [UInt8], secrets: [String]) -> Bool {
        guard let t = parsed.timestamp else { return false }
        var matched = false
        for secret in secrets {
            let expected = v1(secret: secret, timestamp: t, body: body)
            for candidate in parsed.v1 where Crypto.constantTimeEquals(expected, candidate) { matched = true }
        }
        return matched
    }

    /// What a receiver of Tally's notifications does: true when `header` signs `body` with
    /// `secret` and its timestamp is within `tolerance` seconds of `now`.
    public static func verify(header: String, secret: String, body: [UInt8], now: Date = Date(), tolerance: TimeInterval = 300) -> Bool {
        let parsed = parse(header)
        guard let t = parsed.timestamp, abs(now.timeIntervalSince1970 - Double(t)) <= tolerance else { return false }
        return matches(parsed, body: body, secrets: [secret])
    }

    /// A new signing secret: `whsec_` and 32 random bytes in hex.
    public static func newSecret() -> String { "whsec_" + Crypto.randomHex(32) }
}
