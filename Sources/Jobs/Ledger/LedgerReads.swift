import Foundation
import Postgres
import Support

/// The JSON of the read endpoints (DESIGN.md, "The ingress"), for the ingress and `tally
/// accounts show`. They read only what the ingress role may: accounts, grants,
/// ledger_entries, subscriptions.
public enum LedgerReads {
    /// `GET /v1/accounts/{user_id}`: `{user_id, balance, debt, grants: [{id, source, amount,
    /// remaining, expires_at}], subscription: {status, current_period_end, cancel_at_period_end}
    /// or null}`, or nil when the user has no account (404). `grants` are those that can still
    /// be spent, in the order they will be; the balance is their remainders less debt.
    public static func account(_ userID: String, on c: Connection) throws -> JSON? {
        let rows = try c.query(LedgerQueries.accountView, [userID])
        guard let first = rows.first else { return nil }
        let debt = try first.int64("debt")
        var grants: [JSON] = []
        var held: Int64 = 0
        for row in rows {
            guard let id = try row.optInt64("grant_id") else { continue }
            let remaining = try row.int64("remaining")
            held += remaining
            grants.append(["id": .int(id), "source": .string(try row.string("source")), "amount": .int(try row.int64("amount")),
                           "remaining": .int(remaining), "expires_at": .optional(try row.optDate("expires_at").map(Timestamp.iso8601))])
        }
        var subscription = JSON.null
        if let s = try c.query(LedgerQueries.accountSubscription, [userID]).first {
            subscription = ["status": .string(try s.string("status")),
                            "current_period_end": .optional(try s.optDate("current_period_end").map(Timestamp.iso8601)),
                            "cancel_at_period_end": .bool(try s.bool("cancel_at_period_end"))]
        }
        // Credits reserved by holds are out of the grants already: `balance` is what is spendable.
        let onHold = try Hold.heldTotal(userID: userID, on: c)
        return ["user_id": .string(userID), "balance": .int(held - debt), "debt": .int(debt), "held": .int(onHold), "grants": .array(grants),
                "subscription": subscription]
    }

    /// `GET /v1/accounts/{user_id}/ledger?limit=&before=`: `{entries: [{id, amount,
    /// balance_after, kind, reference, metadata, created_at}], next_before}`, newest first;
    /// `next_before` is the id to pass as `before` for the next page (null on the last). Nil
    /// without an account. `limit` is clamped to 1…500. `metadata` is the entry's as recorded
    /// (an object, `{}` when there is none): an operator's adjustment has its `actor` and
    /// `reason`, usage its `agent` and `units`, a Stripe grant its event id.
    public static func ledger(_ userID: String, limit: Int = 50, before: Int64? = nil, on c: Connection) throws -> JSON? {
        guard try c.query(LedgerQueries.accountExists, [userID]).first != nil else { return nil }
        let n = min(max(limit, 1), 500)
        let rows = try c.query(LedgerQueries.entries, [userID, n, before])
        var entries: [JSON] = []
        var lastID: Int64?
        for row in rows {
            let id = try row.int64("id")
            lastID = id
            entries.append(["id": .int(id), "amount": .int(try row.int64("amount")), "balance_after": .int(try row.int64("balance_after")),
                            "kind": .string(try row.string("kind")), "reference": .string(try row.string("reference")),
                            "metadata": try row.json("metadata"), "created_at": .string(Timestamp.iso8601(try row.date("created_at")))])
        }
        return ["entries": .array(entries), "next_before": rows.count == n ? .optional(lastID) : .null]
    }
}
