import Foundation
import Postgres
import Queue
import Support

extension Inbox {
    /// The delivery hook (called by `Inbox.write`, in the transaction that writes the
    /// notifications): one `notify.deliver` job per notification and enabled endpoint, keyed
    /// `notify.deliver:<notification>:<endpoint>`, all in one insert. With no endpoint
    /// registered it costs one indexed read of an empty set.
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
    /// `{"notifications": [{id, type, payload, created_at, read_at}]}`. At most `limit` (1 to
    /// 200), with ids below `before` when given. An unknown user has none.
    public static func list(userID: String, limit: Int = 50, before: Int64? = nil, on c: Connection) throws -> JSON {
        let rows = try c.query(NotifyQueries.inbox, [userID, min(max(limit, 1), 200), before])
        let items: [JSON] = try rows.map { row in
            ["id": .int(try row.int64("id")), "type": .string(try row.string("type")), "payload": try row.json("payload"),
             "created_at": .string(Timestamp.iso8601(try row.date("created_at"))),
             "read_at": try row.optDate("read_at").map { .string(Timestamp.iso8601($0)) } ?? .null]
        }
        return ["notifications": .array(items)]
    }
}
