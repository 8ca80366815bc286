import Postgres

/// The statements on the operators and operator_sessions tables (sql/0022), run through `Operators`.
enum OperatorQueries {
    static let create = Query("console_operator_create", """
        INSERT INTO operators (name, token_hash, token_prefix) VALUES ($1, $2, $3) RETURNING id
        """)

    static let list = Query("console_operator_list", """
        SELECT o.id, o.name, o.token_prefix, o.created_at, o.last_sign_in_at, o.revoked_at,
               (SELECT count(*) FROM operator_sessions s WHERE s.operator_id = o.id AND s.expires_at > now()) AS sessions
        FROM operators o ORDER BY o.name, o.id
        """)

    /// Revokes the live operator named `$1` and ends their sessions, in one statement.
    static let revoke = Query("console_operator_revoke", """
        WITH gone AS (
            UPDATE operators SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING id
        ), ended AS (
            DELETE FROM operator_sessions s USING gone WHERE s.operator_id = gone.id RETURNING s.id_hash
        )
        SELECT id, (SELECT count(*) FROM ended) AS sessions FROM gone
        """)

    static let byToken = Query("console_operator_by_token", """
        SELECT id, name FROM operators WHERE token_hash = $1 AND revoked_at IS NULL
        """)

    /// Starts a session; also forgets expired ones (sign-ins are rare: this keeps the table small).
    static let startSession = Query("console_session_start", """
        WITH old AS (DELETE FROM operator_sessions WHERE expires_at < now()),
             seen AS (UPDATE operators SET last_sign_in_at = now() WHERE id = $2)
        INSERT INTO operator_sessions (id_hash, operator_id, csrf_token, expires_at)
        VALUES ($1, $2, $3, now() + $4::bigint * interval '1 second')
        """)

    static let session = Query("console_session", """
        SELECT o.id, o.name, s.csrf_token FROM operator_sessions s JOIN operators o ON o.id = s.operator_id
        WHERE s.id_hash = $1 AND s.expires_at > now() AND o.revoked_at IS NULL
        """)

    static let endSession = Query("console_session_end", "DELETE FROM operator_sessions WHERE id_hash = $1")
}
