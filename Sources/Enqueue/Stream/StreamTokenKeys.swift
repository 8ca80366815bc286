import Foundation
import Postgres
import Support
import Synchronization

/// The ingress's cache of the current stream-token key (`stream_token_keys`, sql/0015):
/// loaded once, reloaded every `refresh` seconds (as the API keys are), so minting and
/// verifying a token costs no database round trip. During an outage the cached key keeps
/// working.
public final class StreamTokenKeys: Sendable {
    private struct State {
        var key: StreamToken.Key?
        var loadedAt: Double = -.infinity
    }

    private let pool: ConnectionPool
    private let refresh: Double
    private let state = Mutex(State())

    public init(pool: ConnectionPool, refresh: TimeInterval) {
        self.pool = pool
        self.refresh = refresh
    }

    /// The current key; reloads first when it is older than `refresh` (or `force`).
    public func current(force: Bool = false) async throws(APIError) -> StreamToken.Key {
        let now = RateLimiter.clock()
        let cached = state.withLock { s -> StreamToken.Key? in
            guard let key = s.key, !force, now - s.loadedAt < refresh else { return nil }
            return key
        }
        if let cached { return cached }
        let pool = self.pool
        do {
            let key = try await pool.withConnection { c -> StreamToken.Key? in
                try c.query(IngressQueries.currentStreamTokenKey).first.map {
                    StreamToken.Key(generation: try $0.int64("generation"), secret: try $0.string("secret"))
                }
            }
            guard let key else { throw APIError(status: 500, code: "internal_error", message: "no stream token key: run tally migrate") }
            state.withLock { s in
                s.key = key
                s.loadedAt = now
            }
            return key
        } catch let error as APIError {
            throw error
        } catch {
            if let key = state.withLock({ $0.key }) { return key }   // the database is away: the old key stands
            throw .unavailable("cannot read the stream token key: the database is unreachable; retry later")
        }
    }

    /// The claims of `token`, verified with the current key (reloaded once when the token names
    /// a newer generation: another ingress saw a revoke-all first).
    public func verify(_ token: String) async throws(APIError) -> StreamToken {
        var key = try await current()
        for attempt in 0..<2 {
            do {
                return try StreamToken.verify(token, key: key)
            } catch .newerGeneration where attempt == 0 {
                key = try await current(force: true)
            } catch {
                throw .unauthorized(error.description)
            }
        }
        throw .unauthorized(StreamToken.Refusal.revoked.description)
    }
}
