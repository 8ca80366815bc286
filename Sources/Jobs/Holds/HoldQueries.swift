import Postgres

/// Every statement of holds, named and kept together (sql/0017).
enum HoldQueries {
    static let columns = "id, user_id, status, reserved, captured, agent, allocations, expires_at, created_at, ended_at"

    /// A batch's new holds (columns of one per hold), with their entries.
    static let insertMany = Query("holds_insert", """
        INSERT INTO holds (id, user_id, status, reserved, agent, allocations, hold_entry_id, expires_at)
        SELECT t.id, t.user_id, 'held', t.reserved, t.agent, t.allocations::jsonb, t.entry, now() + t.seconds * interval '1 second'
        FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::bigint[])
             AS t(id, user_id, reserved, agent, allocations, entry, seconds)
        RETURNING \(columns)
        """)

    static let byID = Query("hold_by_id", "SELECT \(columns) FROM holds WHERE id = $1")

    /// Whose holds these are (read before their accounts are locked, to lock those first).
    static let usersOf = Query("holds_users", "SELECT id, user_id FROM holds WHERE id = ANY($1::text[])")

    /// After their users' accounts (the lock order: accounts, then their holds), in id order.
    static let lockMany = Query("holds_lock", "SELECT \(columns) FROM holds WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE")

    /// Ends holds still held (columns: id, status, captured).
    static let endMany = Query("holds_end", """
        UPDATE holds h SET status = t.status, captured = t.captured, ended_at = now()
        FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(id, status, captured)
        WHERE h.id = t.id AND h.status = 'held'
        RETURNING h.id, h.user_id, h.status, h.reserved, h.captured, h.agent, h.allocations, h.expires_at, h.created_at, h.ended_at
        """)

    /// Holds past their expiry, a batch of them, their users in order (to lock them so).
    static let due = Query("holds_due", """
        SELECT id, user_id FROM holds WHERE status = 'held' AND expires_at <= now()
        ORDER BY user_id, id LIMIT $1::int
        """)

    /// Credits the user's holds hold now (GET /v1/accounts/{user_id}, the stream's snapshot).
    public static let heldTotal = Query("holds_held_total", """
        SELECT COALESCE(sum(reserved), 0)::bigint AS held FROM holds WHERE user_id = $1 AND status = 'held'
        """)
}
