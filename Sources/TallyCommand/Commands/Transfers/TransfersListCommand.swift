import Foundation
import Jobs
import Support

struct TransfersListCommand: Command {
    static let name = "transfers list"
    static let summary = "Transfers between users, newest first"
    static let usage = "[--user U] [--status S] [--limit N]"
    static let options: Set<String> = ["user", "status", "limit"]

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        if let status = args.option("status"), Transfers.Record.Status(rawValue: status) == nil {
            throw CommandError.usage("--status must be completed, escrowed, released or refunded, got \"\(status.prefix(40))\"")
        }
        let limit = try args.int("limit", range: 1...10_000) ?? 50
        let transfers = try Transfers.list(user: args.option("user"), status: args.option("status"), limit: limit, on: try context.connect())
        if context.json {
            context.print(json: ["transfers": .array(transfers.map(\.json))])
            return 0
        }
        guard !transfers.isEmpty else {
            context.print("No transfers.")
            return 0
        }
        var table = Table(["id", "from", "to", "credits", "status", "created", "expires"])
        for t in transfers {
            table.add([t.id, t.fromUserID, t.toUserID, String(t.credits), t.status.rawValue, Show.time(t.createdAt), Show.time(t.expiresAt)])
        }
        context.print(table.render())
        return 0
    }
}

struct TransfersShowCommand: Command {
    static let name = "transfers show"
    static let summary = "One transfer"
    static let usage = "ID"

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let id = try args.expect(["ID"], command: name)[0]
        guard let t = try Transfers.read(id, on: try context.connect()) else { throw CommandError.failure("no transfer \(id.prefix(64))") }
        if context.json { context.print(json: t.json) } else { context.print(t.json.serialized) }
        return 0
    }
}

/// `transfers release` and `transfers refund`: an operator ends an escrow (audited).
enum TransferEnd {
    @MainActor static func run(release: Bool, _ args: Arguments, _ context: CommandContext, command: String) throws -> Int32 {
        let id = try args.expect(["ID"], command: command)[0]
        guard args.option("actor") != nil else { throw CommandError.usage("--actor A is required: who ends the escrow") }
        let result = try context.connect().transaction { tx in
            let result = try Transfers.end(id: id, release: release, on: tx)
            try context.audit(target: "transfer:\(id)", details: ["result": result], on: tx)
            return result
        }
        if result["error"] != nil { throw CommandError.failure("no transfer \(id.prefix(64))") }
        if context.json { context.print(json: result) } else {
            context.print("transfer \(id): \(result["status"]?.string ?? "?")")
        }
        return 0
    }
}

struct TransfersReleaseCommand: Command {
    static let name = "transfers release"
    static let summary = "Release an escrowed transfer to its recipient"
    static let usage = "ID --actor A [--reason R]"
    static let audited = true

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try TransferEnd.run(release: true, args, context, command: name)
    }
}

struct TransfersRefundCommand: Command {
    static let name = "transfers refund"
    static let summary = "Refund an escrowed transfer to its sender"
    static let usage = "ID --actor A [--reason R]"
    static let audited = true

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try TransferEnd.run(release: false, args, context, command: name)
    }
}
