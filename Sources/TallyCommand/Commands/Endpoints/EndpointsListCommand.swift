import Foundation
import Jobs
import Postgres
import Support

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
