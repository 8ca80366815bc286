import Postgres

/// Every statement the ingress runs, named (prepared once per connection) and kept together.
/// The restricted role `tally_ingress` (sql/0003, sql/0005, sql/0010, sql/0011) may run each of them.
public enum IngressQueries {
    /// Stores verified Stripe events in the inbox; a redelivered event is skipped. Through the
    /// function of sql/0011, which checks each row goes with its own `stripe.event` job (the
    /// ingress role has no INSERT on the inbox).
    static let insertStripeEvents = Query("tally_ingress_stripe_events", """
        SELECT tally_ingress_stripe_events($1::text[], $2::text[], $3::text[], $4::bigint[], $5::jsonb[], $6::bigint[])
        """)

    /// The active API key with this SHA-256 hash.
    static let apiKeyByHash = Query("tally_ingress_api_key", """
        SELECT id, scope FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL
        """)

    /// Every active key, for the periodic refresh of the in-memory cache.
    static let activeAPIKeys = Query("tally_ingress_api_keys", """
        SELECT id, key_hash, scope FROM api_keys WHERE revoked_at IS NULL
        """)

    /// A job by idempotency key (the rate-limited path looks for a conflict before refusing).
    static let jobByKey = Query("tally_ingress_job_by_key", """
        SELECT id, kind, args FROM jobs
        WHERE unique_key = $1
          AND (NOT unique_while_active OR state IN ('scheduled', 'available', 'running', 'retryable'))
        """)

    /// Whether finishing the job will send a notification (jobs enqueued without a waiter do not).
    static let jobNotifies = Query("tally_ingress_job_notifies", "SELECT notify_finish FROM jobs WHERE id = $1")

    /// Whether a product exists and is a subscription (POST /v1/purchases/crypto; sql/0010).
    static let productIsMonthly = Query("tally_ingress_product", "SELECT monthly FROM products WHERE name = $1")

    /// The newest stream-token key (sql/0015).
    static let currentStreamTokenKey = Query("tally_ingress_stream_key", """
        SELECT generation, secret FROM stream_token_keys ORDER BY generation DESC LIMIT 1
        """)

    static let ping = Query("tally_ingress_ping", "SELECT 1 AS ok")
}

extension IngressQueries {
    // MARK: API keys (`tally apikey`, run with DATABASE_URL, never by the ingress role)

    public static let createAPIKey = Query("tally_apikey_create", """
        INSERT INTO api_keys (name, key_hash, key_prefix, scope) VALUES ($1, $2, $3, $4)
        RETURNING id, name, key_prefix, scope, created_at
        """)

    public static let listAPIKeys = Query("tally_apikey_list", """
        SELECT id, name, key_prefix, scope, created_at, revoked_at FROM api_keys ORDER BY id
        """)

    /// Revokes once; returns the row whether or not it was revoked before.
    public static let revokeAPIKey = Query("tally_apikey_revoke", """
        WITH r AS (
            UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id
        )
        SELECT id, name, revoked_at, EXISTS (SELECT 1 FROM r) AS changed FROM api_keys WHERE id = $1
        """)
}

extension IngressQueries {
    // MARK: Stream tokens (`tally stream-tokens revoke-all`, as the owner role)

    /// A new generation with a new secret: every token signed before stops working.
    public static let revokeAllStreamTokens = Query("tally_stream_tokens_revoke_all", """
        INSERT INTO stream_token_keys (generation, secret)
        SELECT COALESCE(max(generation), 0) + 1, $1 FROM stream_token_keys
        RETURNING generation, created_at
        """)
}
