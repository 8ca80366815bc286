import Foundation
import Jobs
import Postgres
import Support

struct PurchasesListCommand: Command {
    static let name = "purchases list"
    static let summary = "List crypto purchases, newest first"
    static let usage = "[--status S] [--user U] [--coin C] [--limit N]"
    static let options: Set<String> = ["status", "user", "coin", "limit"]
    static let details = """
        Options:
          --status S   one of \(PurchaseStatus.allCases.map(\.rawValue).joined(separator: ", "))
          --user U     only this user's purchases
          --coin C     btc or eth
          --limit N    at most N purchases (default 20, at most 1000)

        Held purchases wait for an operator: tally purchases list --status late (or underpaid).
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let status = try args.option("status").map { s -> String in
            guard PurchaseStatus.parse(s) != nil else {
                throw CommandError.usage("--status must be one of \(PurchaseStatus.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(s)\"")
            }
            return s
        }
        let coin = try args.option("coin").map { c -> String in
            do { return try Coin.parse(c).rawValue } catch { throw CommandError.usage("--coin must be btc or eth, got \"\(c)\"") }
        }
        let limit = try args.int("limit", range: 1...1000) ?? 20
        let connection = try context.connect()
        let purchases = try connection.query(CryptoQueries.list, [status, args.option("user"), coin, limit]).map(Purchase.init(row:))
        if context.json {
            context.print(json: ["purchases": .array(purchases.map(\.json))])
            return 0
        }
        var table = Table(["id", "user", "product", "coin", "status", "amount", "received", "conf", "expires", "created"])
        for p in purchases {
            table.add([p.id, p.userID, p.product, p.coin.rawValue, p.status.rawValue, p.amount?.description ?? "-",
                       p.received.description, p.confirmations.map(String.init) ?? "-", Show.time(p.expiresAt), Show.age(p.createdAt)])
        }
        context.print(purchases.isEmpty ? "No purchases match." : table.render())
        return 0
    }
}
