@testable import Enqueue
import Foundation
import Postgres
import Support
import TestSupport
import XCTest

/// The key cache against a real database: a flood of distinct unknown keys costs at most
/// `missLookupsPerSecond` lookups a second, and a key created a moment ago still works.
final class APIKeyCacheTests: XCTestCase {
    func testAFloodOfDistinctUnknownKeysIsBoundedAndANewKeyWorks() async throws {
        let db = try TestDatabase.create()
        let cache = APIKeyCache(pool: db.pool(2), refresh: 30)
        let key = APIKey.generate()
        try db.connect().query("INSERT INTO api_keys (name, key_hash, key_prefix) VALUES ('fresh', $1, $2)",
                               [APIKey.hash(key), APIKey.displayPrefix(key)])
        // A key created just before the first request is found at once (the first reload).
        _ = try await cache.authenticate("Bearer \(key)")
        let start = Date()
        var refused = 0
        for _ in 0..<500 {
            do { _ = try await cache.authenticate("Bearer \(APIKey.generate())") } catch { refused += 1 }
        }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(refused, 500, "every unknown key is refused")
        // At most 50 a second reached PostgreSQL (one more window may have begun meanwhile).
        let allowed = APIKeyCache.missLookupsPerSecond * (Int(seconds) + 1)
        XCTAssertLessThanOrEqual(cache.databaseLookups, allowed, "\(cache.databaseLookups) lookups in \(seconds) s")
        XCTAssertLessThan(cache.databaseLookups, 500)
        _ = try await cache.authenticate("Bearer \(key)")  // the known key still works meanwhile
    }
}
