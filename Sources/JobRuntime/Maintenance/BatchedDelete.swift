import Postgres
import Support

/// Deletes rows a batch at a time: `query` deletes at most `batch` rows (its last parameter)
/// and answers `n`, how many it deleted. Each batch is its own short statement, so pruning a
/// backlog never holds locks for long. Stops when a batch comes back short or the run is cancelled.
public enum BatchedDelete {
    public static func run(_ query: Query, _ params: [any PostgresEncodable], batch: Int, pool: ConnectionPool) async throws -> Int {
        let all: [any PostgresEncodable] = params + [batch]
        return try await run(batch: batch, pool: pool) { c, _ in try c.query(query, all).first?.int("n") ?? 0 }
    }

    /// The same with a typed delete: `delete(connection, batch)` deletes at most `batch` rows
    /// and returns how many it deleted.
    public static func run(batch: Int, pool: ConnectionPool,
                           _ delete: @escaping @Sendable (Connection, Int) throws -> Int) async throws -> Int {
        var total = 0
        while true {
            let n = try await pool.withConnection { c in try delete(c, batch) }
            total += n
            if n < batch || Task.isCancelled { return total }
        }
    }
}
