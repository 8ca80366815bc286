import Postgres

/// Every statement of holds, named and kept together (sql/0017).
enum HoldQueries {
    static let columns = "id, user_id, status, reserved, captured, agent, allocations, expires_at, created_at, ended_at"

    static let insert = Query("hold_insert", """
        INSERT INTO holds (id, user_id, status, reserved, agent, allocations, hold_entry_id, expires_at)
        VALUES ($1, $2, 'held', $3::bigint, $4, $5::jsonb, $6::bigint, now() + $7::bigint * interval '1 second')
        RETURNING \(columns)
        """)

    static let byID = Query("hold_by_id", "SELECT \(columns) FROM holds WHERE id = $1")

    /// After the user's account (the lock order: accounts, then their holds).
    static let lock = Query("hold_lock", "SELECT \(columns) FROM holds WHERE id = $1 FOR UPDATE")

    static let end = Query("hold_end", """
        UPDATE holds SET status = $2, captured = $3::bigint, ended_at = now()
        WHERE id = $1 AND status = 'held'
        RETURNING \(columns)
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
