import Foundation
import Jobs
import Postgres
import Support

struct PurchasesShowCommand: Command {
    static let name = "purchases show"
    static let summary = "Show one crypto purchase: quote, status, transfers seen, operator confirmations"
    static let usage = "ID"

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let id = try PurchaseLookup.id(args, command: name)
        let connection = try context.connect()
        let p = try PurchaseLookup.load(id, on: connection)
        let transfers = try connection.query(CryptoQueries.transfersOf, [id]).map { row -> JSON in
            ["transfer_id": .string(try row.string("transfer_id")), "address": .string(try row.string("address")),
             "txid": .optional(try row.optString("txid")), "state": .string(try row.string("state")), "live": .bool(try row.bool("live")),
             "amount_base_units": .string(try row.string("amount_base_units")), "confirmations": .int(try row.int("confirmations")),
             "first_seen_at": .string(Timestamp.iso8601(try row.date("first_seen_at"))),
             "checked_at": .string(Timestamp.iso8601(try row.date("checked_at")))]
        }
        let confirmations = try connection.query(CryptoQueries.confirmationsOf, [id]).map { row -> JSON in
            ["id": .int(try row.int64("id")), "actor": .string(try row.string("actor")), "note": .optional(try row.optString("note")),
             "previous_status": .string(try row.string("previous_status")), "new_status": .string(try row.string("new_status")),
             "credits": .int(try row.int64("credits")), "received_base_units": .string(try row.string("received_base_units")),
             "job_id": .optional(try row.optInt64("job_id")), "created_at": .string(Timestamp.iso8601(try row.date("created_at")))]
        }
        if context.json {
            guard case .object(var doc) = p.json else { return 1 }
            doc["transfers"] = .array(transfers)
            doc["confirmed_by_hand"] = .array(confirmations)
            context.print(json: .object(doc))
            return 0
        }
        var lines: [(String, String)] = [
            ("id", p.id), ("user", p.userID), ("product", p.product), ("coin", p.coin.rawValue), ("status", p.status.rawValue),
            ("credits", p.credits.map(String.init) ?? "-"), ("usd_cents", p.usdCents.map(String.init) ?? "-"),
            ("price_usd", p.priceUSD.map { "\($0) (from \(Show.time(p.priceUpdatedAt)))" } ?? "-"),
            ("amount", p.amount.map { "\($0) base units" } ?? "-"), ("address", p.address ?? "-"),
            ("quoted_at", Show.time(p.quotedAt)), ("expires_at", Show.time(p.expiresAt)),
            ("received", "\(p.received) base units"), ("confirmations", p.confirmations.map(String.init) ?? "-"),
        ]
        if let s = p.surplus { lines.append(("surplus", "\(s) base units")) }
        if let g = p.grantID { lines.append(("grant", "\(g) at \(Show.time(p.grantedAt))")) }
        if p.reversedAt != nil { lines.append(("reversed_at", Show.time(p.reversedAt))) }
        if let f = p.failure { lines.append(("failure", "\(f): \(p.failureMessage ?? "")")) }
        lines.append(("next_check", p.nextCheckAt.map { Show.time($0) + " (" + Show.age($0) + ")" } ?? "-"))
        lines.append(("created_at", Show.time(p.createdAt)))
        let width = lines.map(\.0.count).max() ?? 0
        var text = lines.map { $0.0 + String(repeating: " ", count: width - $0.0.count) + "  " + $0.1 }.joined(separator: "\n")
        if !transfers.isEmpty {
            var table = Table(["transfer", "state", "amount", "conf", "first_seen"])
            for t in transfers {
                table.add([t["transfer_id"]?.string ?? "", t["state"]?.string ?? "", t["amount_base_units"]?.string ?? "",
                           t["confirmations"]?.numberText ?? "", String(t["first_seen_at"]?.string?.prefix(19) ?? "") + "Z"])
            }
            text += "\ntransfers:\n" + table.render()
        }
        for c in confirmations {
            text += "\nconfirmed by hand: \(c["actor"]?.string ?? "") at \(c["created_at"]?.string ?? "")"
                + " (\(c["previous_status"]?.string ?? "") → \(c["new_status"]?.string ?? ""))"
                + (c["note"]?.string.map { ": \($0)" } ?? "")
        }
        context.print(text)
        return 0
    }
}
