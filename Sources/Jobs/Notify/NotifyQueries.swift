import Postgres
import Queue

/// Every statement of notification reading and delivery, named.
public enum NotifyQueries {
    // MARK: The inbox (GET /v1/accounts/{user_id}/notifications; notify.read)

    /// New notifications (Inbox.write), each with its user's next `seq`, announced on the
    /// events channel, one NOTIFY per notification (`{"id", "user_id", "type", "seq"}`: the
    /// contract, DESIGN.md). That is about half of a 1,000-row insert here (38 of 70 ms) and is
    /// written to the notify queue inside the commit PostgreSQL serialises; a NOTIFY per user
    /// and batch would be cheaper, but a client that LISTENs is promised every notification.
    /// `unnest` keeps one prepared plan for any batch size. The accounts'
    /// counters move by how many each user gets (their rows stay locked to commit: sql/0015);
    /// within a statement a user's notifications are numbered in input order. Ids come back in
    /// input order (identity values follow the insert's order, which follows `ord`).
    static let insertNotifications = Query("tally_inbox_insert", """
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[]) WITH ORDINALITY AS t(user_id, type, payload, ord)
        ), counts AS (
            SELECT user_id, count(*) AS n FROM input GROUP BY user_id
        ), bumped AS (
            UPDATE accounts a SET notification_seq = a.notification_seq + c.n
            FROM counts c WHERE a.user_id = c.user_id
            RETURNING a.user_id, a.notification_seq - c.n AS base
        ), ins AS (
            INSERT INTO notifications (user_id, type, payload, seq)
            SELECT i.user_id, i.type, i.payload, b.base + row_number() OVER (PARTITION BY i.user_id ORDER BY i.ord)
            FROM input i JOIN bumped b ON b.user_id = i.user_id
            ORDER BY i.ord
            RETURNING id, user_id, type, seq
        ), sent AS (
            SELECT pg_notify('\(Channels.events)', json_build_object('id', id, 'user_id', user_id, 'type', type, 'seq', seq)::text)
            FROM ins
        )
        SELECT id, seq, (SELECT count(*) FROM sent) AS sent FROM ins ORDER BY id
        """)

    /// A user's notifications, newest first: at most `$2`, with ids below `$3` when given
    /// (the next page). No row when the user has no account; one row with a NULL id when the
    /// account has no notifications. Reads only accounts and notifications, which tally_ingress may.
    public static let inbox = Query("notify_inbox", """
        SELECT n.id, n.seq, n.type, n.payload, n.created_at, n.read_at
        FROM accounts a
        LEFT JOIN LATERAL (
            SELECT id, seq, type, payload, created_at, read_at FROM notifications
            WHERE user_id = a.user_id AND ($3::bigint IS NULL OR id < $3::bigint)
            ORDER BY id DESC
            LIMIT $2::int
        ) n ON true
        WHERE a.user_id = $1
        ORDER BY n.id DESC
        """)

    /// A user's notifications after `seq` `$3`, oldest first, at most `$2` (polling, and the
    /// stream's replay). Rows as `inbox`.
    public static let inboxAfter = Query("notify_inbox_after", """
        SELECT n.id, n.seq, n.type, n.payload, n.created_at, n.read_at
        FROM accounts a
        LEFT JOIN LATERAL (
            SELECT id, seq, type, payload, created_at, read_at FROM notifications
            WHERE user_id = a.user_id AND seq > $3::bigint
            ORDER BY seq
            LIMIT $2::int
        ) n ON true
        WHERE a.user_id = $1
        ORDER BY n.seq
        """)

    /// For several users at once (the stream's fan-out: one query per wake-up, however many
    /// users have news): each user's notifications after their own `seq`, at most `$3` each,
    /// in (user, seq) order, on the (user_id, seq) index.
    public static let streamBatch = Query("notify_stream_batch", """
        SELECT u.user_id, n.id, n.seq, n.type, n.payload, n.created_at
        FROM unnest($1::text[], $2::bigint[]) AS u(user_id, after)
        JOIN LATERAL (
            SELECT id, seq, type, payload, created_at FROM notifications
            WHERE user_id = u.user_id AND seq > u.after
            ORDER BY seq
            LIMIT $3::int
        ) n ON true
        ORDER BY u.user_id, n.seq
        """)

    /// What a stream starts with: the user's spendable balance, debt and last `seq`, read in one
    /// statement (one snapshot), so the balance is the one as of that `seq`. No row without an
    /// account. `held`: what the user's holds reserve (not in the balance).
    public static let streamSnapshot = Query("notify_stream_snapshot", """
        SELECT a.notification_seq AS seq, a.debt,
               COALESCE((SELECT sum(g.remaining) FROM grants g
                         WHERE g.user_id = a.user_id AND g.remaining > 0 AND (g.expires_at IS NULL OR g.expires_at > now())), 0)::bigint AS spendable,
               (SELECT min(seq) FROM notifications WHERE user_id = a.user_id) AS oldest_seq,
               (SELECT COALESCE(sum(reserved), 0) FROM holds WHERE user_id = a.user_id AND status = 'held')::bigint AS held
        FROM accounts a WHERE a.user_id = $1
        """)

    /// Marks the user's notifications `$2` read (their own only; already read ones keep their time).
    static let markRead = Query("notify_mark_read", """
        UPDATE notifications SET read_at = now()
        WHERE user_id = $1 AND id = ANY($2::bigint[]) AND read_at IS NULL
        """)

    // MARK: Endpoints (`tally endpoints …`)

    /// The endpoints every new notification is delivered to.
    static let activeEndpoints = Query("notify_active_endpoints", """
        SELECT id FROM notify_endpoints WHERE enabled AND removed_at IS NULL ORDER BY id
        """)

    public static let addEndpoint = Query("notify_add_endpoint", """
        INSERT INTO notify_endpoints (url, secret) VALUES ($1, $2)
        RETURNING id, url, enabled, created_at
        """)

    public static let listEndpoints = Query("notify_list_endpoints", """
        SELECT e.id, e.url, e.enabled, e.failing_since, e.last_success_at, e.last_failure_at, e.disabled_at, e.disabled_reason,
               e.created_at,
               (SELECT count(*) FROM jobs j WHERE j.kind = 'notify.deliver' AND (j.args->>'endpoint_id')::bigint = e.id
                  AND j.state IN ('scheduled', 'available', 'running', 'retryable')) AS pending
        FROM notify_endpoints e WHERE e.removed_at IS NULL ORDER BY e.id
        """)

    /// Enables an endpoint (its failure clock starts again).
    public static let enableEndpoint = Query("notify_enable_endpoint", """
        UPDATE notify_endpoints SET enabled = true, failing_since = NULL, disabled_at = NULL, disabled_reason = NULL, updated_at = now()
        WHERE id = $1::bigint AND removed_at IS NULL
        RETURNING id, url
        """)

    public static let disableEndpoint = Query("notify_disable_endpoint", """
        UPDATE notify_endpoints SET enabled = false, disabled_at = now(), disabled_reason = $2, updated_at = now()
        WHERE id = $1::bigint AND removed_at IS NULL
        RETURNING id, url
        """)

    public static let removeEndpoint = Query("notify_remove_endpoint", """
        UPDATE notify_endpoints SET enabled = false, removed_at = now(), updated_at = now()
        WHERE id = $1::bigint AND removed_at IS NULL
        RETURNING id, url
        """)

    // MARK: Delivery (notify.deliver)

    /// The endpoint and the notification of one delivery.
    static let delivery = Query("notify_delivery", """
        SELECT e.url, e.secret, e.enabled, e.removed_at IS NOT NULL AS removed,
               n.id, n.type, n.user_id, n.created_at, n.payload
        FROM notify_endpoints e, notifications n
        WHERE e.id = $1::bigint AND n.id = $2::bigint
        """)

    static let logAttempt = Query("notify_log_attempt", """
        INSERT INTO notify_deliveries (endpoint_id, notification_id, job_id, attempt, succeeded, status, error, duration_ms)
        VALUES ($1::bigint, $2::bigint, $3::bigint, $4::int, $5::boolean, $6::int, $7, $8::int)
        """)

    static let recordSuccess = Query("notify_record_success", """
        UPDATE notify_endpoints SET failing_since = NULL, last_success_at = now(), updated_at = now() WHERE id = $1::bigint
        """)

    /// Records a failure; disables the endpoint when it has been failing (no success since)
    /// for `$2` milliseconds or more, with reason `$3`. Returns its state after.
    static let recordFailure = Query("notify_record_failure", """
        UPDATE notify_endpoints e SET
            failing_since = COALESCE(e.failing_since, now()),
            last_failure_at = now(),
            enabled = e.enabled AND NOT d.dead,
            disabled_at = CASE WHEN e.enabled AND d.dead THEN now() ELSE e.disabled_at END,
            disabled_reason = CASE WHEN e.enabled AND d.dead THEN $3 ELSE e.disabled_reason END,
            updated_at = now()
        FROM (SELECT COALESCE(failing_since, now()) <= now() - make_interval(secs => $2::bigint / 1000.0) AS dead
              FROM notify_endpoints WHERE id = $1::bigint) d
        WHERE e.id = $1::bigint
        RETURNING e.enabled, e.failing_since
        """)

    // MARK: Upkeep (notify.prune)

    /// Up to `$2` delivery attempts older than `$1` seconds, found through the BRIN index on
    /// created_at (sql/0008), so a run with little to delete reads a few pages, not the table.
    static let pruneDeliveries = Query("notify_prune_deliveries", """
        WITH doomed AS (
            SELECT id FROM notify_deliveries
            WHERE created_at < now() - $1::bigint * interval '1 second'
            LIMIT $2
        ), gone AS (
            DELETE FROM notify_deliveries d USING doomed WHERE d.id = doomed.id RETURNING d.id
        )
        SELECT count(*) AS n FROM gone
        """)
}
