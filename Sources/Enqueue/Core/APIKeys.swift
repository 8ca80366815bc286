import Foundation
import HTTPServer
import Postgres
import Support
import Synchronization

/// API keys: made by `tally apikey create`, shown once, stored as their SHA-256.
///
/// SHA-256 and not a slow password hash (bcrypt, scrypt): a key is 32 random bytes (256 bits),
/// so there is no dictionary to try and a fast hash is as strong as a slow one; and it lets
/// the ingress look a key up by its hash with an index instead of trying each stored salt.
public enum APIKey {
    public static let prefix = "tally_"

    /// A new key: `tally_` and 64 hex digits.
    public static func generate() -> String { prefix + Crypto.randomHex(32) }

    public static func hash(_ key: String) -> String { Crypto.sha256Hex(key) }

    /// The first characters shown in listings, to tell keys apart without revealing them.
    public static func displayPrefix(_ key: String) -> String { String(key.prefix(prefix.count + 8)) }
}

/// The ingress's view of the keys: an in-memory cache so that authenticating a request costs
/// no database round trip. Keys are reloaded every `refresh` seconds (a revoked key stops
/// working within that time, 5 s by default); a key not in the cache is looked up once (a key
/// created a moment ago works at once), and unknown keys are remembered for `refresh` too, so
/// a flood of bad keys does not reach PostgreSQL. A flood of *distinct* bad keys is bounded
/// too: at most `missLookupsPerSecond` lookups a second reach the database; past that a key
/// not in the cache is refused until the next reload finds it (a key created during such a
/// flood works within `refresh`).
public final class APIKeyCache: Sendable {
    private struct State {
        var known: [String: APIKeyIdentity] = [:]
        var unknown: [String: Double] = [:]
        var loadedAt: Double = -.infinity
        var loading = false
        /// Lookups of keys not in the cache during the current second.
        var missSecond: Double = -.infinity
        var missLookups = 0
        /// Every lookup that reached the database (tests read it).
        var lookups = 0
    }

    /// The most database lookups of uncached keys in one second.
    static let missLookupsPerSecond = 50

    private let pool: ConnectionPool
    private let refresh: Double
    private let state = Mutex(State())

    public init(pool: ConnectionPool, refresh: TimeInterval) {
        self.pool = pool
        self.refresh = refresh
    }

    /// The key for an `Authorization` header value; 401 when missing or unknown, 503 when
    /// the key is not cached and PostgreSQL cannot be asked.
    public func authenticate(_ authorization: String?) async throws(APIError) -> APIKeyIdentity {
        guard let authorization else { throw .unauthorized("missing Authorization: Bearer <api key> header") }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw .unauthorized("the Authorization header must be \"Bearer <api key>\"")
        }
        let key = parts[1].trimmingSpaces
        guard key.hasPrefix(APIKey.prefix), key.utf8.count <= 128 else { throw .unauthorized("unknown or revoked API key") }
        let hash = APIKey.hash(String(key))
        let now = RateLimiter.clock()
        enum Cached { case hit(APIKeyIdentity), miss, known, reload }
        let cached = state.withLock { s -> Cached in
            if now - s.loadedAt > refresh && !s.loading {
                s.loading = true
                return .reload
            }
            if let id = s.known[hash] { return .hit(id) }
            if let at = s.unknown[hash], now - at < refresh { return .known }
            if now - s.missSecond >= 1 {
                s.missSecond = now
                s.missLookups = 0
            }
            guard s.missLookups < Self.missLookupsPerSecond else { return .known }
            s.missLookups += 1
            s.lookups += 1
            return .miss
        }
        switch cached {
        case .hit(let id): return id
        case .known: throw .unauthorized("unknown or revoked API key")
        case .reload:
            await reload()
            if let id = state.withLock({ $0.known[hash] }) { return id }
            if let at = state.withLock({ $0.unknown[hash] }), now - at < refresh { throw .unauthorized("unknown or revoked API key") }
        case .miss:
            break
        }
        let pool = self.pool
        let found: APIKeyIdentity?
        do {
            found = try await pool.withConnection { c in
                try c.query(IngressQueries.apiKeyByHash, [hash]).first.map(Self.identity)
            }
        } catch {
            throw .unavailable("cannot check the API key: the database is unreachable; retry later")
        }
        state.withLock { s in
            if let found { s.known[hash] = found } else {
                if s.unknown.count > 10_000 { s.unknown.removeAll() }
                s.unknown[hash] = now
            }
        }
        guard let found else { throw .unauthorized("unknown or revoked API key") }
        return found
    }

    /// A key's row: its id and scope (an unknown scope reads as `read`, the narrower).
    static func identity(_ row: Row) throws -> APIKeyIdentity {
        APIKeyIdentity(id: try row.int64("id"), scope: APIKeyScope(rawValue: try row.string("scope")) ?? .read)
    }

    /// How many lookups of uncached keys reached the database so far.
    var databaseLookups: Int { state.withLock { $0.lookups } }

    /// Replaces the cache with the active keys. On failure the old cache stays (a database
    /// outage must not lock every app out) and the next request tries again.
    private func reload() async {
        let pool = self.pool
        let rows = try? await pool.withConnection { c -> [String: APIKeyIdentity] in
            var out: [String: APIKeyIdentity] = [:]
            for row in try c.query(IngressQueries.activeAPIKeys) { out[try row.string("key_hash")] = try Self.identity(row) }
            return out
        }
        let now = RateLimiter.clock()
        state.withLock { s in
            s.loading = false
            guard let rows else { return }
            s.known = rows
            s.unknown.removeAll()
            s.loadedAt = now
        }
    }
}
