import Postgres
import Support

/// Deletes rows a batch at a time: `query` deletes at most `batch` rows (its last parameter)
/// and answers `n`, how many it deleted. Each batch is its own short statement, so pruning a
/// backlog never holds locks for long. Stops when a batch comes back short or the run is cancelled.
public enum BatchedDelete {
    public static func run(_ query: Query, _ params: [any PostgresEncodable], batch: Int, pool: ConnectionPool) async throws -> Int {
        let all: [any PostgresEncodable] = params + [batch]
        var total = 0
        while true {
            let n = try await pool.withConnection { c in try c.query(query, all).first?.int("n") ?? 0 }
            total += n
            if n < batch || Task.isCancelled { return total }
        }
    }
}
