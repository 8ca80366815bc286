import Foundation
import Jobs
import Postgres

/// The purchase an `ID` argument names (`purchases show`, `purchases confirm`).
enum PurchaseLookup {
    /// Reads a purchase id argument: a UUID, or bad usage (exit 2).
    static func id(_ args: Arguments, command: String) throws -> String {
        let text = try args.expect(["ID"], command: command)[0]
        do { return try Purchase.canonicalID(text) } catch { throw CommandError.usage("\(error)") }
    }

    /// The purchase, or exit 1 naming it.
    static func load(_ id: String, on connection: Connection) throws -> Purchase {
        guard let row = try connection.query(CryptoQueries.get, [id]).first else { throw CommandError.failure("no purchase \(id)") }
        return try Purchase(row: row)
    }
}
