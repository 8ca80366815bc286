import Foundation
import Postgres
import Support

/// `endpoints enable`, `disable` and `remove`: one endpoint id, one statement, the same answer.
enum EndpointChange {
    @MainActor static func run(_ args: Arguments, _ context: CommandContext, command: String, query: Query, params: [any PostgresEncodable],
                               done: String) throws -> Int32 {
        let word = try args.expect(["ID"], command: command)[0]
        guard let id = Int64(word), id > 0 else { throw CommandError.usage("ID is an endpoint id (a positive integer), got \"\(word)\"") }
        let connection = try context.connect()
        let url = try connection.transaction { tx in
            guard let row = try tx.query(query, [id] + params).first else {
                throw CommandError.failure("no endpoint \(id) (tally endpoints list shows them)")
            }
            let url = try row.string("url")
            try context.audit(target: "endpoint:\(id)", details: ["url": .string(url)], on: tx)
            return url
        }
        if context.json {
            context.print(json: ["id": .int(id), "url": .string(url), "status": .string(done)])
        } else {
            context.print("endpoint \(id) \(done): \(url)")
        }
        return 0
    }
}
