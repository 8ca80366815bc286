import Postgres

/// Every statement of the ledger, kept together. Batches go through `unnest` of parallel
/// arrays: one round trip for any size.
///
/// Most are named (prepared once per connection). The ones that look rows up by an array of
/// keys or join an array to a table (`= ANY($1)`, `FROM unnest(…) WHERE id = …`) are not: a
/// prepared statement's generic plan is fixed after its first executions, and one fixed while
/// a table is young and has no statistics can stay a sequential scan as the table grows (that
/// made the queue's completion of 500 jobs take 66 ms instead of 6 on a fresh database, see
/// WorkerPool). Planned at each execution (0.1–0.5 ms, once per batch), these always fit
/// the tables as they are.
public enum LedgerQueries {
    // MARK: Accounts

    /// Creates an account unless it exists; returns a row only when it was created.
    static let openAccount = Query("ledger_open_account", """
        INSERT INTO accounts (user_id, referral_code, opened_by) VALUES ($1, $2, $3)
        ON CONFLICT (user_id) DO NOTHING
        RETURNING user_id
        """)

    /// `openAccount` for many users at once (no referral codes), in user_id order.
    static let openAccounts = Query(adHoc: """
        INSERT INTO accounts (user_id, opened_by)
        SELECT u, $2 FROM unnest($1::text[]) AS u ORDER BY u
        ON CONFLICT (user_id) DO NOTHING
        """)

    /// Records a referral code on an account that has none yet.
    static let setReferralCode = Query("ledger_set_referral_code", """
        UPDATE accounts SET referral_code = $2, updated_at = now()
        WHERE user_id = $1 AND referral_code IS NULL
        """)

    /// Locks accounts in user_id order (the lock order of the whole ledger: two batches that
    /// share accounts wait for each other instead of deadlocking). LockRows runs above the sort,
    /// so rows are locked in the order returned.
    ///
    /// `FOR NO KEY UPDATE`, not `FOR UPDATE`: every row that references an account (payments,
    /// grants, entries, notifications, purchases…) takes `FOR KEY SHARE` on it when inserted,
    /// and `FOR UPDATE` conflicts with that. Two transactions for one user that each inserted
    /// such a row and then asked for the account's lock waited for each other: a deadlock
    /// (issue 10: a backlog of Stripe top-ups for one user, 200 deadlocks, 7–9 s per attempt).
    /// `FOR NO KEY UPDATE` still excludes every other book on the account (it conflicts with
    /// itself) and is what an UPDATE of the account's totals takes anyway (no key changes:
    /// `user_id` never does).
    static let lockAccounts = Query(adHoc: """
        SELECT user_id, debt, entries_total, now() AS now FROM accounts
        WHERE user_id = ANY($1::text[])
        ORDER BY user_id
        FOR NO KEY UPDATE
        """)

    /// The same without waiting: accounts another transaction holds are left out.
    static let lockAccountsNoWait = Query(adHoc: """
        SELECT user_id, debt, entries_total, now() AS now FROM accounts
        WHERE user_id = ANY($1::text[])
        ORDER BY user_id
        FOR NO KEY UPDATE SKIP LOCKED
        """)

    /// Which of these users have an account (no lock).
    static let existingAccounts = Query(adHoc: """
        SELECT user_id FROM accounts WHERE user_id = ANY($1::text[])
        """)

    /// Grants with something left (spendable or past expiry and not yet written off). Read
    /// after the account locks are held, so nothing changes them until commit.
    static let liveGrants = Query(adHoc: """
        SELECT id, user_id, source, amount, remaining, expires_at, payment_id FROM grants
        WHERE user_id = ANY($1::text[]) AND remaining > 0
        """)

    /// References already in the ledger, with their entries' amounts.
    static let existingReferences = Query(adHoc: """
        SELECT reference, amount FROM ledger_entries WHERE reference = ANY($1::text[])
        """)

    static let reserveGrantIDs = Query("ledger_reserve_grant_ids", """
        SELECT nextval(pg_get_serial_sequence('grants', 'id')) AS id FROM generate_series(1, $1::int)
        """)

    static let reserveEntryIDs = Query("ledger_reserve_entry_ids", """
        SELECT nextval(pg_get_serial_sequence('ledger_entries', 'id')) AS id FROM generate_series(1, $1::int)
        """)

    /// Writes a book's changes in one statement: new entries, new grants (with their final
    /// remainders), changed remainders of existing grants, allocations, and the accounts'
    /// running totals and debt. Foreign keys are checked at the end of the statement, when
    /// every part is in.
    static let write = Query(adHoc: """
        WITH entries AS (
            INSERT INTO ledger_entries (id, user_id, amount, kind, reference, balance_after, metadata)
            SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::jsonb[])
        ), new_grants AS (
            INSERT INTO grants (id, user_id, source, amount, remaining, expires_at, payment_id, entry_id)
            SELECT * FROM unnest($8::bigint[], $9::text[], $10::text[], $11::bigint[], $12::bigint[],
                                 $13::timestamptz[], $14::bigint[], $15::bigint[])
        ), changed AS (
            UPDATE grants g SET remaining = c.remaining
            FROM unnest($16::bigint[], $17::bigint[]) AS c(id, remaining)
            WHERE g.id = c.id
        ), allocations AS (
            INSERT INTO ledger_allocations (entry_id, grant_id, amount)
            SELECT * FROM unnest($18::bigint[], $19::bigint[], $20::bigint[])
        )
        UPDATE accounts a SET entries_total = c.total, debt = c.debt, updated_at = now()
        FROM unnest($21::text[], $22::bigint[], $23::bigint[]) AS c(user_id, total, debt)
        WHERE a.user_id = c.user_id
        """)

    // MARK: Prices and products

    static let agentPrices = Query("ledger_agent_prices", """
        SELECT name, credits_per_unit FROM agents WHERE name = ANY($1::text[])
        """)

    public static let listAgents = Query("ledger_list_agents", """
        SELECT name, credits_per_unit, updated_at FROM agents ORDER BY name
        """)

    /// The database's clock (the transaction's start when in one).
    static let databaseNow = Query("ledger_now", "SELECT now() AS now")

    public static let setAgent = Query("ledger_set_agent", """
        INSERT INTO agents (name, credits_per_unit) VALUES ($1, $2::bigint)
        ON CONFLICT (name) DO UPDATE SET credits_per_unit = EXCLUDED.credits_per_unit, updated_at = now()
        RETURNING name, credits_per_unit, updated_at
        """)

    public static let listProducts = Query("ledger_list_products", """
        SELECT name, credits, usd_cents, stripe_price_id, monthly, updated_at FROM products ORDER BY monthly, usd_cents, name
        """)

    /// Creates or changes a product. A NULL Stripe price id (`$4`) or monthly flag (`$5`) keeps
    /// what an existing product has (a new one: none, one-time).
    public static let setProduct = Query("ledger_set_product", """
        INSERT INTO products (name, credits, usd_cents, stripe_price_id, monthly)
        VALUES ($1, $2::bigint, $3::bigint, $4, COALESCE($5::boolean, false))
        ON CONFLICT (name) DO UPDATE SET credits = EXCLUDED.credits, usd_cents = EXCLUDED.usd_cents,
            stripe_price_id = COALESCE($4, products.stripe_price_id),
            monthly = COALESCE($5::boolean, products.monthly), updated_at = now()
        RETURNING name, credits, usd_cents, stripe_price_id, monthly, updated_at
        """)

    static let productByStripePrice = Query("ledger_product_by_stripe_price", """
        SELECT name, credits, usd_cents, monthly FROM products WHERE stripe_price_id = $1
        """)

    static let productByName = Query("ledger_product_by_name", """
        SELECT name, credits, usd_cents, monthly FROM products WHERE name = $1
        """)

    // MARK: Expiry

    /// The fan-out of credits.expire and credits.rollover (DueGrantFanOut): the upper bound of
    /// every `$3`-th account (and the last) with grants of sources `$2` due at `$1`, in user
    /// order, with how many accounts there are. One pass over the expiry index.
    static let dueAccountBounds = Query("ledger_due_account_bounds", """
        WITH due AS (
            SELECT DISTINCT user_id FROM grants
            WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1::timestamptz AND source = ANY($2::text[])
        ), numbered AS (
            SELECT user_id, row_number() OVER (ORDER BY user_id) AS n, count(*) OVER () AS total FROM due
        )
        SELECT user_id, total FROM numbered WHERE n % $3::int = 0 OR n = total ORDER BY user_id
        """)

    /// The accounts of one fan-out batch: grants of sources `$2` due at `$1`, user_id in
    /// (`$3`, `$4`]. A range scan of the live-grant index: ~1 ms for 1,000 accounts among
    /// 200,000 (EXPLAIN ANALYZE); the bounds are never optional, so a generic plan keeps both in
    /// the index condition.
    static let dueAccountsInRange = Query("ledger_due_accounts_in_range", """
        SELECT DISTINCT user_id FROM grants
        WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1::timestamptz AND source = ANY($2::text[])
          AND user_id > $3 AND user_id <= $4
        ORDER BY user_id
        """)

    /// The first `$4` accounts after `$3` with grants of sources `$2` due at `$1`.
    static let dueAccountsAfter = Query("ledger_due_accounts_after", """
        SELECT DISTINCT user_id FROM grants
        WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1::timestamptz AND source = ANY($2::text[])
          AND user_id > $3
        ORDER BY user_id
        LIMIT $4::int
        """)

    // MARK: Reads (GET /v1/accounts/{user_id}, /ledger; `tally accounts show`)
    // They touch only what the ingress role may read: accounts, grants, ledger_entries, subscriptions.

    /// The account and the grants it can still spend, in one statement (one snapshot): the
    /// balance is computed from them when read (LedgerReads), so a grant past its expiry never
    /// counts, written off or not. Grants come in the order they will be spent.
    public static let accountView = Query("ledger_account_view", """
        SELECT a.user_id, a.debt, a.created_at, g.id AS grant_id, g.source, g.amount, g.remaining, g.expires_at
        FROM accounts a
        LEFT JOIN grants g ON g.user_id = a.user_id AND g.remaining > 0 AND (g.expires_at IS NULL OR g.expires_at > now())
        WHERE a.user_id = $1
        ORDER BY g.expires_at NULLS LAST, g.source NOT IN ('trial', 'reward', 'streak', 'referral'), g.id
        """)

    static let accountExists = Query("ledger_account_exists", "SELECT 1 AS one FROM accounts WHERE user_id = $1")

    /// The subscription to show: the newest one still running, else the newest.
    public static let accountSubscription = Query("ledger_account_subscription", """
        SELECT id, status, current_period_end, cancel_at_period_end FROM subscriptions
        WHERE user_id = $1
        ORDER BY status IN ('canceled', 'incomplete_expired'), updated_at DESC, id
        LIMIT 1
        """)

    /// Entries newest first, below the id `$3` when given.
    public static let entries = Query("ledger_entries_page", """
        SELECT id, amount, balance_after, kind, reference, metadata, created_at FROM ledger_entries
        WHERE user_id = $1 AND ($3::bigint IS NULL OR id < $3::bigint)
        ORDER BY id DESC
        LIMIT $2
        """)

    // MARK: Verification (`tally ledger verify`)

    /// Accounts whose entries do not add up to their grants less debt, or whose running total
    /// or last balance_after disagrees with the sum of their entries.
    public static let verifyAccounts = Query("ledger_verify_accounts", """
        WITH e AS (
            SELECT user_id, sum(amount) AS total,
                   (array_agg(balance_after ORDER BY id DESC))[1] AS last_balance_after
            FROM ledger_entries GROUP BY user_id
        ), g AS (
            SELECT user_id, sum(remaining) AS remaining FROM grants GROUP BY user_id
        )
        SELECT a.user_id, COALESCE(e.total, 0) AS entries, COALESCE(g.remaining, 0) AS remaining, a.debt,
               a.entries_total, e.last_balance_after
        FROM accounts a
        LEFT JOIN e ON e.user_id = a.user_id
        LEFT JOIN g ON g.user_id = a.user_id
        WHERE COALESCE(e.total, 0) <> COALESCE(g.remaining, 0) - a.debt
           OR a.entries_total <> COALESCE(e.total, 0)
           OR e.last_balance_after IS DISTINCT FROM (CASE WHEN e.user_id IS NULL THEN NULL ELSE e.total END)
        ORDER BY a.user_id
        """)

    /// Grants whose remainder is not their amount plus their allocations, or is negative.
    public static let verifyGrants = Query("ledger_verify_grants", """
        SELECT g.id, g.user_id, g.amount, g.remaining, COALESCE(al.total, 0) AS allocated
        FROM grants g
        LEFT JOIN (SELECT grant_id, sum(amount) AS total FROM ledger_allocations GROUP BY grant_id) al
               ON al.grant_id = g.id
        WHERE g.remaining <> g.amount + COALESCE(al.total, 0) OR g.remaining < 0
        ORDER BY g.user_id, g.id
        """)

    public static let countAccounts = Query("ledger_count_accounts", "SELECT count(*) AS n FROM accounts")
}
