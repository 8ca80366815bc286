import Foundation
import Jobs
import Postgres
import Support

struct EndpointsAddCommand: Command {
    static let name = "endpoints add"
    static let summary = "Register an endpoint that receives every notification, signed; prints its secret once"
    static let usage = "URL"
    static let details = """
        Every notification written from now on is POSTed to URL (one notify.deliver job per
        endpoint) with Tally-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the
        secret>. The secret is printed once, alone on its own line: store it where the receiver
        can read it. docs/rewards-and-notifications.md shows how to verify a signature.
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let url = try args.expect(["URL"], command: name)[0]
        guard url.utf8.count <= 2048, let c = URLComponents(string: url), c.scheme == "http" || c.scheme == "https",
              let host = c.host, !host.isEmpty else {
            throw CommandError.usage("URL must be an http:// or https:// URL with a host, at most 2048 bytes (got \"\(url)\")")
        }
        let secret = TimestampedSignature.newSecret()
        let connection = try context.connect()
        let row = try connection.query(NotifyQueries.addEndpoint, [url, secret]).first!
        let id = try row.int64("id")
        if context.json {
            context.print(json: ["id": .int(id), "url": .string(url), "enabled": true, "secret": .string(secret),
                                 "created_at": .string(Timestamp.iso8601(try row.date("created_at")))])
        } else {
            context.print("endpoint \(id) added: \(url)\nits signing secret, shown this once (Tally-Signature is keyed with it):")
            context.print(secret)
        }
        return 0
    }
}

struct EndpointsListCommand: Command {
    static let name = "endpoints list"
    static let summary = "List notification endpoints: enabled or not, failing since, deliveries pending"
    static let usage = ""

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let connection = try context.connect()
        var list: [JSON] = []
        var table = Table(["id", "url", "status", "failing_since", "last_success", "pending", "reason"])
        for row in try connection.query(NotifyQueries.listEndpoints) {
            let id = try row.int64("id"), url = try row.string("url"), enabled = try row.bool("enabled")
            let failing = try row.optDate("failing_since"), success = try row.optDate("last_success_at")
            let pending = try row.int64("pending"), reason = try row.optString("disabled_reason")
            list.append(["id": .int(id), "url": .string(url), "enabled": .bool(enabled),
                         "failing_since": failing.map { .string(Timestamp.iso8601($0)) } ?? .null,
                         "last_success_at": success.map { .string(Timestamp.iso8601($0)) } ?? .null,
                         "last_failure_at": try row.optDate("last_failure_at").map { .string(Timestamp.iso8601($0)) } ?? .null,
                         "disabled_at": try row.optDate("disabled_at").map { .string(Timestamp.iso8601($0)) } ?? .null,
                         "disabled_reason": .optional(reason), "pending": .int(pending),
                         "created_at": .string(Timestamp.iso8601(try row.date("created_at")))])
            table.add([String(id), url, enabled ? "enabled" : "disabled", Show.age(failing), Show.age(success), String(pending), reason ?? ""])
        }
        if context.json {
            context.print(json: ["endpoints": .array(list)])
        } else {
            context.print(list.isEmpty ? "No endpoints. `tally endpoints add URL` registers one." : table.render())
        }
        return 0
    }
}

struct EndpointsEnableCommand: Command {
    static let name = "endpoints enable"
    static let summary = "Enable an endpoint (also one disabled after a day of failures)"
    static let usage = "ID"
    static let details = """
        Deliveries discarded while it was disabled are not resent by this; to send them:
          tally jobs retry --state discarded --kind notify.deliver
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try change(args, context, command: name, query: NotifyQueries.enableEndpoint, params: [], done: "enabled")
    }
}

struct EndpointsDisableCommand: Command {
    static let name = "endpoints disable"
    static let summary = "Disable an endpoint: new notifications are not delivered to it"
    static let usage = "ID"

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try change(args, context, command: name, query: NotifyQueries.disableEndpoint, params: ["disabled by an operator"], done: "disabled")
    }
}

struct EndpointsRemoveCommand: Command {
    static let name = "endpoints remove"
    static let summary = "Remove an endpoint (its delivery log is kept)"
    static let usage = "ID"

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        try change(args, context, command: name, query: NotifyQueries.removeEndpoint, params: [], done: "removed")
    }
}

@MainActor private func change(_ args: Arguments, _ context: CommandContext, command: String, query: Query, params: [any PostgresEncodable],
                    done: String) throws -> Int32 {
    let word = try args.expect(["ID"], command: command)[0]
    guard let id = Int64(word), id > 0 else { throw CommandError.usage("ID is an endpoint id (a positive integer), got \"\(word)\"") }
    let connection = try context.connect()
    guard let row = try connection.query(query, [id] + params).first else {
        throw CommandError.failure("no endpoint \(id) (tally endpoints list shows them)")
    }
    let url = try row.string("url")
    if context.json {
        context.print(json: ["id": .int(id), "url": .string(url), "status": .string(done)])
    } else {
        context.print("endpoint \(id) \(done): \(url)")
    }
    return 0
}
