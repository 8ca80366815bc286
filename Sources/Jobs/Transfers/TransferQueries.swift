import Postgres

/// Every statement of transfers, named and kept together (sql/0018).
enum TransferQueries {
    static let columns = "id, from_user_id, to_user_id, credits, status, escrow, memo, allocations, expires_at, created_at, ended_at"

    /// A batch's new transfers (columns of one per transfer; seconds in escrow, or null).
    static let insertMany = Query("transfers_insert", """
        INSERT INTO transfers (id, from_user_id, to_user_id, credits, status, escrow, memo, allocations, expires_at, ended_at)
        SELECT t.id, t.from_user_id, t.to_user_id, t.credits, CASE WHEN t.escrow THEN 'escrowed' ELSE 'completed' END, t.escrow,
               t.memo, t.allocations::jsonb, now() + t.seconds * interval '1 second', CASE WHEN t.escrow THEN NULL ELSE now() END
        FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::boolean[], $6::text[], $7::text[], $8::bigint[])
             AS t(id, from_user_id, to_user_id, credits, escrow, memo, allocations, seconds)
        RETURNING \(columns)
        """)

    static let byID = Query("transfer_by_id", "SELECT \(columns) FROM transfers WHERE id = $1")

    /// After both accounts (the lock order).
    static let lock = Query("transfer_lock", "SELECT \(columns) FROM transfers WHERE id = $1 FOR UPDATE")

    /// A batch's transfers, after both sides' accounts, in id order.
    static let lockMany = Query("transfers_lock", "SELECT \(columns) FROM transfers WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE")

    static let end = Query("transfer_end", """
        UPDATE transfers SET status = $2, ended_at = now() WHERE id = $1 AND status = 'escrowed'
        RETURNING \(columns)
        """)

    static let due = Query("transfers_due", """
        SELECT id FROM transfers WHERE status = 'escrowed' AND expires_at <= now() ORDER BY id LIMIT $1::int
        """)

    /// `tally transfers list`: the newest first, of one user when given.
    public static let list = Query("transfers_list", """
        SELECT \(columns) FROM transfers
        WHERE ($1::text IS NULL OR from_user_id = $1 OR to_user_id = $1) AND ($2::text IS NULL OR status = $2)
        ORDER BY created_at DESC, id LIMIT $3::int
        """)
}
