import Foundation
import Postgres
import Queue
import Support

extension Inbox {
    /// The delivery hook (called by `Inbox.write`, in the transaction that writes the
    /// notifications): one `notify.deliver` job per notification and enabled endpoint, keyed
    /// `notify.deliver:<notification>:<endpoint>`, all in one insert. With no endpoint
    /// registered it costs one read of an empty partial index per write (not per
    /// notification): 15 µs on a unix socket, the same as `SELECT 1` (pgbench -M prepared,
    /// 68k/s against 69k/s), so it is not cached: an endpoint added gets the very next one.
    static func enqueueDeliveries(_ notificationIDs: [Int64], on tx: Connection) throws {
        guard !notificationIDs.isEmpty else { return }
        let endpoints = try tx.query(NotifyQueries.activeEndpoints).map { try $0.int64("id") }
        guard !endpoints.isEmpty else { return }
        var jobs: [NewJob] = []
        jobs.reserveCapacity(notificationIDs.count * endpoints.count)
        for n in notificationIDs {
            for e in endpoints {
                jobs.append(NewJob(kind: NotifyDeliverJob.kind, argsJSON: "{\"endpoint_id\":\(e),\"notification_id\":\(n)}",
                                   queue: NotifyDeliverJob.queue, maxAttempts: NotifyDeliverJob.maxAttempts,
                                   uniqueKey: "notify.deliver:\(n):\(e)"))
            }
        }
        try Enqueuer().enqueue(jobs, on: tx)
    }

    /// A user's notifications for GET /v1/accounts/{user_id}/notifications, newest first:
    /// `{"notifications": [{id, type, payload, created_at, read_at}]}`, or nil when the user has
    /// no account (404, like the other account reads). At most `limit` (clamped to 1…500, as
    /// the ledger's), with ids below `before` when given (the next page: the last id shown).
    public static func list(userID: String, limit: Int = 50, before: Int64? = nil, on c: Connection) throws -> JSON? {
        let rows = try c.query(NotifyQueries.inbox, [userID, min(max(limit, 1), 500), before])
        guard !rows.isEmpty else { return nil }
        var items: [JSON] = []
        for row in rows {
            guard let id = try row.optInt64("id") else { continue }
            items.append(["id": .int(id), "type": .string(try row.string("type")), "payload": try row.json("payload"),
                          "created_at": .string(Timestamp.iso8601(try row.date("created_at"))),
                          "read_at": .optional(try row.optDate("read_at").map(Timestamp.iso8601))])
        }
        return ["notifications": .array(items)]
    }
}
