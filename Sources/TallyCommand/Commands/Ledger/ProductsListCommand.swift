import Foundation
import Jobs
import Postgres
import Support

struct ProductsListCommand: Command {
    static let name = "products list"
    static let summary = "List products: credits, price, Stripe price id, one-time or monthly"
    static let usage = ""

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let rows = try context.connect().query(LedgerQueries.listProducts)
        var list: [JSON] = []
        var table = Table(["product", "credits", "usd_cents", "stripe_price", "billing"])
        for row in rows {
            let json = try ProductsListCommand.json(row)
            list.append(json)
            table.add([json["name"]!.string!, String(json["credits"]!.int64!), String(json["usd_cents"]!.int64!),
                       json["stripe_price_id"]?.string ?? "-", json["monthly"]!.bool! ? "monthly" : "one-time"])
        }
        if context.json { context.print(json: ["products": .array(list)]) } else { context.print(table.render()) }
        return 0
    }

    /// A product as `products list --json` shows it (and `products set` prints).
    static func json(_ row: Row) throws -> JSON {
        ["name": .string(try row.string("name")), "credits": .int(try row.int64("credits")), "usd_cents": .int(try row.int64("usd_cents")),
         "stripe_price_id": .optional(try row.optString("stripe_price_id")), "monthly": .bool(try row.bool("monthly"))]
    }
}
