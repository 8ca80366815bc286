import Postgres

/// Every statement of the crypto purchases (sql/0006_crypto.sql), named and kept together.
/// Amounts in base units travel as decimal text (`::numeric` in, `::text` out): never a float.
public enum CryptoQueries {
    // MARK: Prices

    /// Stores fetched prices, each replacing the coin's row only when it is not older.
    static let storePrices = Query("crypto_store_prices", """
        INSERT INTO crypto_prices (coin, usd, last_updated_at, fetched_at)
        SELECT coin, usd, updated, now() FROM unnest($1::text[], $2::numeric[], $3::timestamptz[]) AS p(coin, usd, updated)
        ON CONFLICT (coin) DO UPDATE SET usd = EXCLUDED.usd, last_updated_at = EXCLUDED.last_updated_at,
                                         fetched_at = EXCLUDED.fetched_at
        WHERE crypto_prices.last_updated_at <= EXCLUDED.last_updated_at
        """)

    static let price = Query("crypto_price", """
        SELECT usd::text AS usd, last_updated_at, fetched_at, now() AS now FROM crypto_prices WHERE coin = $1
        """)

    public static let prices = Query("crypto_prices", """
        SELECT coin, usd::text AS usd, last_updated_at, fetched_at FROM crypto_prices ORDER BY coin
        """)

    // MARK: Purchases

    /// Every column a `Purchase` reads, and the database's time.
    private static let columns = """
        id::text AS id, user_id, product, coin, status, credits, usd_cents, price_usd::text AS price_usd, price_updated_at,
        amount_base_units::text AS amount_base_units, address, wallet_id, quoted_at, expires_at,
        received_base_units::text AS received_base_units, confirmations, surplus_base_units::text AS surplus_base_units,
        grant_id, granted_at, covered_base_units::text AS covered_base_units, reversed_at, failure, failure_message,
        next_check_at, checks, quote_job_id, created_at, updated_at, now() AS now
        """

    /// The row a quote starts from (status quoting); nothing when the id exists already.
    static let insertQuoting = Query("crypto_insert_quoting", """
        INSERT INTO crypto_purchases (id, user_id, product, coin, quote_job_id) VALUES ($1::uuid, $2, $3, $4, $5::bigint)
        ON CONFLICT (id) DO NOTHING
        """)

    public static let get = Query("crypto_purchase_get", "SELECT \(columns) FROM crypto_purchases WHERE id = $1::uuid")

    /// Locks one purchase: every change to a purchase happens under its row lock, taken before
    /// any account lock (the ledger's), always in that order.
    static let lock = Query("crypto_purchase_lock", "SELECT \(columns) FROM crypto_purchases WHERE id = $1::uuid FOR UPDATE")

    /// Locks the purchases a transfer pays, by deposit address, in id order.
    static let lockByAddresses = Query("crypto_purchase_lock_by_addresses", """
        SELECT \(columns) FROM crypto_purchases WHERE coin = $1 AND address = ANY($2::text[]) ORDER BY id FOR UPDATE
        """)

    static let product = Query("crypto_product", "SELECT credits, usd_cents, monthly FROM products WHERE name = $1")

    /// quoting → awaiting_payment with the quote; the expiry is the database's now() + TTL.
    static let storeQuote = Query("crypto_store_quote", """
        UPDATE crypto_purchases SET status = 'awaiting_payment', credits = $2, usd_cents = $3, price_usd = $4::numeric,
               price_updated_at = $5, amount_base_units = $6::numeric, address = $7, wallet_id = $8, quoted_at = now(),
               expires_at = now() + $9::bigint * interval '1 millisecond', checks = 0,
               next_check_at = now() + $10::bigint * interval '1 millisecond', updated_at = now()
        WHERE id = $1::uuid AND status = 'quoting'
        """)

    static let storeFailure = Query("crypto_store_failure", """
        UPDATE crypto_purchases SET status = 'failed', failure = $2, failure_message = $3, next_check_at = NULL, updated_at = now()
        WHERE id = $1::uuid AND status = 'quoting'
        """)

    /// Records a decision on a locked purchase.
    static let storeDecision = Query("crypto_store_decision", """
        UPDATE crypto_purchases SET status = $2, received_base_units = $3::numeric, confirmations = $4::int,
               surplus_base_units = $5::numeric, covered_base_units = COALESCE($6::numeric, covered_base_units),
               grant_id = COALESCE($7::bigint, grant_id), granted_at = CASE WHEN $7::bigint IS NOT NULL THEN COALESCE(granted_at, now()) ELSE granted_at END,
               reversed_at = CASE WHEN $2 = 'reversed' THEN now() ELSE reversed_at END,
               next_check_at = $8, checks = $9::int, updated_at = now()
        WHERE id = $1::uuid
        """)

    /// The grant a ledger reference created (when a grant finds its reference applied).
    static let grantByReference = Query("crypto_grant_by_reference", """
        SELECT g.id FROM grants g JOIN ledger_entries e ON e.id = g.entry_id WHERE e.reference = $1
        """)

    static let accountExists = Query("crypto_account_exists", "SELECT 1 AS one FROM accounts WHERE user_id = $1")

    // MARK: Transfers

    /// Records what BitGo's API said about a transfer's payment to one address. The first
    /// sighting stays the earliest ever reported; the rest is as last seen.
    static let recordTransfer = Query("crypto_record_transfer", """
        INSERT INTO crypto_transfers (coin, transfer_id, address, purchase_id, wallet_id, txid, state, live, amount_base_units,
                                      confirmations, first_seen_at)
        VALUES ($1, $2, $3, $4::uuid, $5, $6, $7, $8, $9::numeric, $10::int, COALESCE($11::timestamptz, now()))
        ON CONFLICT (coin, transfer_id, address) DO UPDATE SET
            purchase_id = COALESCE(crypto_transfers.purchase_id, EXCLUDED.purchase_id), wallet_id = EXCLUDED.wallet_id,
            txid = EXCLUDED.txid, state = EXCLUDED.state, live = EXCLUDED.live, amount_base_units = EXCLUDED.amount_base_units,
            confirmations = EXCLUDED.confirmations,
            first_seen_at = LEAST(crypto_transfers.first_seen_at, EXCLUDED.first_seen_at), checked_at = now()
        """)

    public static let transfersOf = Query("crypto_transfers_of", """
        SELECT transfer_id, address, txid, state, live, amount_base_units::text AS amount_base_units, confirmations,
               first_seen_at, checked_at
        FROM crypto_transfers WHERE purchase_id = $1::uuid ORDER BY first_seen_at, transfer_id
        """)

    // MARK: Poll

    /// Purchases whose next look is due, the most overdue first.
    static let due = Query("crypto_poll_due", """
        SELECT \(columns) FROM crypto_purchases WHERE next_check_at <= now() ORDER BY next_check_at LIMIT $1::int
        """)

    // MARK: Operators

    static let recordConfirmation = Query("crypto_record_confirmation", """
        INSERT INTO crypto_manual_confirmations (purchase_id, actor, note, previous_status, new_status, credits,
                                                 received_base_units, job_id)
        VALUES ($1::uuid, $2, $3, $4, $5, $6, $7::numeric, $8)
        RETURNING id, created_at
        """)

    public static let confirmationsOf = Query("crypto_confirmations_of", """
        SELECT id, actor, note, previous_status, new_status, credits, received_base_units::text AS received_base_units,
               job_id, created_at
        FROM crypto_manual_confirmations WHERE purchase_id = $1::uuid ORDER BY id
        """)

    /// `tally purchases list`: newest first, optionally by status, user and coin.
    public static let list = Query("crypto_purchase_list", """
        SELECT \(columns) FROM crypto_purchases
        WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR user_id = $2) AND ($3::text IS NULL OR coin = $3)
        ORDER BY created_at DESC, id LIMIT $4::int
        """)

    // MARK: The API

    /// GET /v1/purchases/{id}: the document DESIGN.md shows, built here so the ingress serves
    /// it as is: `{purchase_id, user_id, product, coin, status, address, amount_base_units,
    /// expires_at, credits}`, base units as a decimal string, times ISO-8601 UTC, absent
    /// values null. Reads only the columns 0006 grants `tally_ingress`. No row: 404.
    public static let apiView = Query("crypto_purchase_api_view", """
        SELECT jsonb_build_object(
            'purchase_id', id::text, 'user_id', user_id, 'product', product, 'coin', coin, 'status', status,
            'address', address, 'amount_base_units', amount_base_units::text,
            'expires_at', to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'credits', credits) AS purchase
        FROM crypto_purchases WHERE id = $1::uuid
        """)
}
