import Foundation
import Jobs
import Postgres
import Queue
import Support

/// Reads a purchase id argument: a UUID, or bad usage (exit 2).
private func purchaseID(_ args: Arguments, command: String) throws -> String {
    let text = try args.expect(["ID"], command: command)[0]
    do { return try Purchase.canonicalID(text) } catch { throw CommandError.usage("\(error)") }
}

/// The purchase, or exit 1 naming it.
private func loadPurchase(_ id: String, on connection: Connection) throws -> Purchase {
    guard let row = try connection.query(CryptoQueries.get, [id]).first else { throw CommandError.failure("no purchase \(id)") }
    return try Purchase(row: row)
}

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

struct PurchasesShowCommand: Command {
    static let name = "purchases show"
    static let summary = "Show one crypto purchase: quote, status, transfers seen, operator confirmations"
    static let usage = "ID"

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let id = try purchaseID(args, command: name)
        let connection = try context.connect()
        let p = try loadPurchase(id, on: connection)
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

struct PurchasesConfirmCommand: Command {
    static let name = "purchases confirm"
    static let summary = "Confirm a crypto payment by hand (grants the credits; audited)"
    static let usage = "ID --actor A [--note N] [--wait]"
    static let options: Set<String> = ["actor", "note"]
    static let flags: Set<String> = ["wait"]
    static let details = """
        Enqueues crypto.confirm_manual (queue payments), which grants the product's credits once,
        marks the purchase paid (overpaid if more than the quote arrived), notifies the user and
        records who confirmed, when and why. For purchases held for an operator (late, underpaid)
        or any that has not been granted yet; refused for paid, overpaid, reversed, failed and
        quoting purchases (exit 1).

        Options:
          --actor A   who confirms (required; kept in the audit and the ledger entry)
          --note N    why (kept in the audit)
          --wait      wait up to 30 s for a worker to apply it and print the outcome
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let id = try purchaseID(args, command: name)
        let actor = try args.required("actor", command: name)
        let note = args.option("note")
        do { try CryptoConfirmManualJob.validate(actor: actor, note: note) } catch { throw CommandError.usage("\(error)") }
        let connection = try context.connect()
        let p = try loadPurchase(id, on: connection)
        guard p.status.isConfirmableByHand else {
            let refusal: PurchaseDecision.Refusal = p.status.isGranted ? .alreadyGranted(p.status) : .notConfirmable(p.status)
            throw CommandError.failure("purchase \(id): \(refusal)")
        }
        let job = NewJob(kind: CryptoConfirmManualJob.kind,
                         args: ["purchase_id": .string(id), "actor": .string(actor), "note": .optional(note)],
                         queue: CryptoConfirmManualJob.queue, uniqueKey: "crypto.confirm_manual:\(id)", uniqueWhileActive: true)
        let enqueued = try Enqueuer().enqueue(job, on: connection)
        guard args.flag("wait") else {
            if context.json {
                context.print(json: ["job_id": .int(enqueued.id), "purchase_id": .string(id), "inserted": .bool(enqueued.inserted)])
            } else {
                context.print("enqueued job \(enqueued.id) to confirm purchase \(id)"
                    + (enqueued.inserted ? "" : " (already waiting)") + "; follow it with tally jobs show \(enqueued.id)")
            }
            return 0
        }
        // Bounded: polls until a monotonic deadline (a wall-clock change cannot stretch it).
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while clock.now < deadline {
            if let row = try connection.query(AdminQueries.show, [enqueued.id]).first {
                let record = try JobRecord(row: row)
                if record.state == .completed, let result = record.result {
                    if context.json { context.print(json: result) }
                    if let error = result["error"]?.string {
                        throw CommandError.failure("purchase \(id): \(result["message"]?.string ?? error)")
                    }
                    if !context.json {
                        context.print("purchase \(id) confirmed by \(actor): \(result["previous_status"]?.string ?? "?") → "
                            + "\(result["status"]?.string ?? "?"), \(result["credits"]?.numberText ?? "?") credits granted")
                    }
                    return 0
                }
                if [.discarded, .cancelled].contains(record.state) {
                    throw CommandError.failure("job \(enqueued.id) was \(record.state.rawValue): \(record.errors.last?.message ?? "no error recorded")")
                }
            }
            try await Task.sleep(for: .milliseconds(200))  // a worker picks it up; the command polls its row
        }
        throw CommandError.failure("job \(enqueued.id) did not finish within 30 s (is a worker running on queue payments?); "
            + "follow it with tally jobs show \(enqueued.id)")
    }
}
