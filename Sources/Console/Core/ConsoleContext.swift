import Foundation
import Postgres
import Queue
import Support

/// What every console route shares: the settings and the database.
public struct ConsoleContext: Sendable {
    public let config: ConsoleConfig
    public let pool: ConnectionPool

    /// Reads on a pool connection (off the event loop and Swift's cooperative pool: libpq blocks).
    public func read<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await pool.withConnection(body)
    }

    /// Does an operator action and writes its audit row under the operator's name, in one
    /// transaction: the action and its record commit together or not at all. `body` returns
    /// its result and the audit row's details.
    public func act<T: Sendable>(_ request: ConsoleRequest, action: String, target: String?, reason: String? = nil,
                                 _ body: @escaping @Sendable (Connection) throws -> (T, JSON)) async throws -> T {
        let actor = request.operatorSession.name
        return try await pool.transaction { tx in
            let (result, details) = try body(tx)
            var all = details.object ?? [:]
            all["via"] = "console"
            try Audit.record(actor: actor, action: action, target: target, reason: reason, details: .object(all), on: tx)
            return result
        }
    }
}
