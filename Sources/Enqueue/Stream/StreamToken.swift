import Foundation
import Support

/// A stream token (DESIGN.md, "Stream tokens"): what an app's backend gives its front end so it
/// can open `/v1/stream` for one user, without ever holding an API key.
///
/// `tst1.<user id, base64url>.<expiry, unix seconds>.<generation>.<HMAC-SHA256, hex>`, the
/// HMAC keyed with the generation's secret (`stream_token_keys`, sql/0015) over everything
/// before it. Verified from the ingress's cache of the current generation: no database round
/// trip per stream. `tally stream-tokens revoke-all` makes a new generation, and every token of
/// the old one stops working once the caches reload.
public struct StreamToken: Sendable, Equatable {
    public let userID: String
    public let expiresAt: Date
    public let generation: Int64

    static let version = "tst1"

    public init(userID: String, expiresAt: Date, generation: Int64) {
        self.userID = userID
        self.expiresAt = expiresAt
        self.generation = generation
    }

    /// The signing key of one generation.
    public struct Key: Sendable, Equatable {
        public let generation: Int64
        public let secret: String

        public init(generation: Int64, secret: String) {
            self.generation = generation
            self.secret = secret
        }
    }

    /// Why a token is refused (all 401 `unauthorized`).
    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case malformed, badSignature, expired, revoked
        /// Of a generation newer than the cache: reload and try again.
        case newerGeneration(Int64)

        public var description: String {
            switch self {
            case .malformed: "not a stream token"
            case .badSignature: "the stream token's signature does not verify"
            case .expired: "the stream token has expired; ask the app for a new one"
            case .revoked: "the stream token was revoked (tally stream-tokens revoke-all); ask the app for a new one"
            case .newerGeneration: "the stream token's key is not known yet"
            }
        }
    }

    /// A token for `userID` until `expiresAt`, signed with `key`.
    public static func mint(userID: String, expiresAt: Date, key: Key) -> String {
        let body = "\(version).\(base64url(Array(userID.utf8))).\(Int64(expiresAt.timeIntervalSince1970)).\(key.generation)"
        return body + "." + Crypto.hmacSHA256Hex(key: key.secret, message: Array(body.utf8))
    }

    /// The token's claims if it verifies with `key` (the current generation) at `now`.
    public static func verify(_ token: String, key: Key, now: Date = Date()) throws(Refusal) -> StreamToken {
        guard token.utf8.count <= 1024 else { throw .malformed }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == version, let user = unbase64url(String(parts[1])), !user.isEmpty, user.utf8.count <= 256,
              let expires = Int64(parts[2]), let generation = Int64(parts[3]), generation > 0 else { throw .malformed }
        if generation > key.generation { throw .newerGeneration(generation) }
        if generation < key.generation { throw .revoked }
        let body = parts[0..<4].joined(separator: ".")
        let expected = Crypto.hmacSHA256Hex(key: key.secret, message: Array(body.utf8))
        guard Crypto.constantTimeEquals(Array(expected.utf8), Array(parts[4].utf8)) else { throw .badSignature }
        guard Double(expires) > now.timeIntervalSince1970 else { throw .expired }
        return StreamToken(userID: user, expiresAt: Date(timeIntervalSince1970: TimeInterval(expires)), generation: generation)
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func unbase64url(_ text: String) -> String? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        guard let data = Data(base64Encoded: s) else { return nil }
        return String(bytes: data, encoding: .utf8)
    }
}
