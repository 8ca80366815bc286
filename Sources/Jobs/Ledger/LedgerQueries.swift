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
        SELECT user_id, debt, entries_total, low_balance, alert_state, auto_topup_threshold, now() AS now FROM accounts
        WHERE user_id = ANY($1::text[])
        ORDER BY user_id
        FOR NO KEY UPDATE
        """)

    /// The same without waiting: accounts another transaction holds are left out.
    static let lockAccountsNoWait = Query(adHoc: """
        SELECT user_id, debt, entries_total, low_balance, alert_state, auto_topup_threshold, now() AS now FROM accounts
        WHERE user_id = ANY($1::text[])
        ORDER BY user_id
        FOR NO KEY UPDATE SKIP LOCKED
        """)

    /// Balance alerts that moved (sql/0019): the accounts whose `alert_state` changed.
    static let setAlertStates = Query("ledger_set_alert_states", """
        UPDATE accounts a SET alert_state = s.state
        FROM unnest($1::text[], $2::text[]) AS s(user_id, state) WHERE a.user_id = s.user_id
        """)

    /// `PUT /v1/accounts/{user_id}/alerts`: the account's own threshold (NULL: the default).
    public static let setLowBalance = Query("ledger_set_low_balance", """
        UPDATE accounts SET low_balance = $2::bigint, updated_at = now() WHERE user_id = $1 RETURNING user_id, low_balance
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

    /// Some grants of one user, whatever is left of them (a hold's release gives credits back to
    /// grants that may have reached zero or expired).
    static let grantsByID = Query(adHoc: """
        SELECT id, user_id, source, amount, remaining, expires_at, payment_id FROM grants
        WHERE id = ANY($1::bigint[]) AND user_id = $2
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

    /// `LedgerStats` in one statement: the accounts and their debt, the spendable credits by
    /// grant source (on grants_live_idx), and the entries since `$1` by kind (on the BRIN index
    /// of sql/0016). Sums are cast to bigint: past 64 bits the query fails rather than rounds.
    static let stats = Query("ledger_stats", """
        SELECT 'accounts' AS part, NULL::text AS key, count(*)::bigint AS n, COALESCE(sum(debt), 0)::bigint AS credits FROM accounts
        UNION ALL
        SELECT 'held', NULL, count(*)::bigint, COALESCE(sum(reserved), 0)::bigint FROM holds WHERE status = 'held'
        UNION ALL
        SELECT 'outstanding', source, count(*)::bigint, sum(remaining)::bigint FROM grants
        WHERE remaining > 0 AND (expires_at IS NULL OR expires_at > now()) GROUP BY source
        UNION ALL
        SELECT 'entries', kind, count(*)::bigint, sum(amount)::bigint FROM ledger_entries WHERE created_at >= $1 GROUP BY kind
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
    //
    // One query per check, each a set-based scan of the whole ledger, all run by
    // `LedgerVerifier` in one REPEATABLE READ READ ONLY transaction (one snapshot). Each returns
    // only the rows that fail.
    //
    // Measured on a scratch database of 100,000 entries (1,000 accounts of 100 entries: 10,000
    // grants, 90,000 allocations, 1,000 payments; PostgreSQL 15, ANALYZEd, 2 cores shared with
    // other work): `tally ledger verify` takes 0.45 s from start to exit, all ten checks. Alone
    // (EXPLAIN ANALYZE): debt 190 ms, entry_allocations 130 ms, allocation_owner 65 ms,
    // balance_after 55 ms, account_balance / account_total / grant_remaining / payment_grant
    // about 20 ms each, grant_payment and purchase_grant under 1 ms. Linear in the ledger's size.

    /// account_balance: accounts whose entries do not add up to their grants' remainders less debt.
    public static let verifyAccountBalance = Query("ledger_verify_account_balance", """
        WITH e AS (SELECT user_id, sum(amount) AS total FROM ledger_entries GROUP BY user_id),
             g AS (SELECT user_id, sum(remaining) AS remaining FROM grants GROUP BY user_id)
        SELECT a.user_id, COALESCE(e.total, 0) AS entries, COALESCE(g.remaining, 0) AS remaining, a.debt
        FROM accounts a
        LEFT JOIN e ON e.user_id = a.user_id
        LEFT JOIN g ON g.user_id = a.user_id
        WHERE COALESCE(e.total, 0) <> COALESCE(g.remaining, 0) - a.debt
        ORDER BY a.user_id
        """)

    /// account_total: accounts whose running total (`entries_total`) is not the sum of their entries.
    public static let verifyAccountTotal = Query("ledger_verify_account_total", """
        SELECT a.user_id, a.entries_total, COALESCE(e.total, 0) AS entries
        FROM accounts a
        LEFT JOIN (SELECT user_id, sum(amount) AS total FROM ledger_entries GROUP BY user_id) e ON e.user_id = a.user_id
        WHERE a.entries_total <> COALESCE(e.total, 0)
        ORDER BY a.user_id
        """)

    /// balance_after: per user in id order, entries whose balance_after is not the previous
    /// entry's plus their amount (the first: 0 plus its amount), and last entries whose
    /// balance_after is not the account's `entries_total`.
    public static let verifyBalanceAfter = Query("ledger_verify_balance_after", """
        WITH chain AS (
            SELECT id, user_id, amount, balance_after,
                   lag(balance_after, 1, 0::bigint) OVER w AS previous,
                   lead(id) OVER w IS NULL AS last
            FROM ledger_entries
            WINDOW w AS (PARTITION BY user_id ORDER BY id)
        )
        SELECT c.id, c.user_id, c.amount, c.balance_after, c.previous, c.last, a.entries_total
        FROM chain c JOIN accounts a ON a.user_id = c.user_id
        WHERE c.balance_after <> c.previous + c.amount OR (c.last AND c.balance_after <> a.entries_total)
        ORDER BY c.user_id, c.id
        """)

    /// grant_remaining: grants whose remainder is not their amount plus their allocations, or
    /// lies outside [0, amount].
    public static let verifyGrantRemaining = Query("ledger_verify_grant_remaining", """
        SELECT g.id, g.user_id, g.amount, g.remaining, COALESCE(al.total, 0) AS allocated
        FROM grants g
        LEFT JOIN (SELECT grant_id, sum(amount) AS total FROM ledger_allocations GROUP BY grant_id) al
               ON al.grant_id = g.id
        WHERE g.remaining <> g.amount + COALESCE(al.total, 0) OR g.remaining < 0 OR g.remaining > g.amount
        ORDER BY g.user_id, g.id
        """)

    /// entry_allocations: entries whose allocations do not account for their amount. Creating a
    /// grant is not an allocation (the grant's amount is); allocations are negative.
    /// - an entry that adds credits (amount > 0) created grants holding exactly its amount, and
    ///   its only allocations are on those grants (debt repaid from them);
    /// - an entry that takes credits (amount < 0) created no grant, and its allocations sum to
    ///   its amount, except an entry of a kind in `$1` (clawbacks), whose allocations may take
    ///   less (down to nothing): what the grants did not cover became debt;
    /// - an entry of a kind in `$2` (a hold's release) gives credits back to grants it did not
    ///   create: it adds credits, creates no grant, and its allocations are all positive and sum
    ///   to its amount.
    public static let verifyEntryAllocations = Query("ledger_verify_entry_allocations", """
        WITH al AS (
            SELECT la.entry_id, sum(la.amount) AS allocated,
                   COALESCE(sum(la.amount) FILTER (WHERE g.entry_id = la.entry_id), 0) AS own,
                   count(*) FILTER (WHERE la.amount > 0) AS positive, count(*) AS n
            FROM ledger_allocations la JOIN grants g ON g.id = la.grant_id
            GROUP BY la.entry_id
        ), created AS (
            SELECT entry_id, sum(amount) AS amount FROM grants GROUP BY entry_id
        )
        SELECT e.id, e.user_id, e.amount, e.kind, e.kind = ANY($1::text[]) AS may_make_debt, e.kind = ANY($2::text[]) AS restores,
               COALESCE(c.amount, 0) AS created, COALESCE(al.allocated, 0) AS allocated,
               COALESCE(al.own, 0) AS own, COALESCE(al.positive, 0) AS positive
        FROM ledger_entries e
        LEFT JOIN al ON al.entry_id = e.id
        LEFT JOIN created c ON c.entry_id = e.id
        WHERE CASE WHEN e.kind = ANY($2::text[])
              THEN e.amount <= 0 OR c.entry_id IS NOT NULL OR COALESCE(al.allocated, 0) <> e.amount OR COALESCE(al.positive, 0) <> COALESCE(al.n, 0)
              ELSE COALESCE(al.positive, 0) > 0
                   OR (e.amount > 0 AND (COALESCE(c.amount, 0) <> e.amount OR COALESCE(al.allocated, 0) <> COALESCE(al.own, 0)))
                   OR (e.amount < 0 AND (c.entry_id IS NOT NULL
                                         OR (e.kind = ANY($1::text[]) AND COALESCE(al.allocated, 0) NOT BETWEEN e.amount AND 0)
                                         OR (e.kind <> ALL($1::text[]) AND COALESCE(al.allocated, 0) <> e.amount)))
              END
        ORDER BY e.user_id, e.id
        """)

    /// debt: per user in id order, the debt each entry made or repaid (grants it created plus
    /// its allocations less its amount) summed: entries after which it would be below zero
    /// (repaid more than was owed), and last entries after which it is not the account's `debt`
    /// (accounts without entries: `debt` must be 0).
    public static let verifyDebt = Query("ledger_verify_debt", """
        WITH change AS (
            SELECT e.id, e.user_id, COALESCE(c.amount, 0) + COALESCE(al.allocated, 0) - e.amount AS made
            FROM ledger_entries e
            LEFT JOIN (SELECT entry_id, sum(amount) AS allocated FROM ledger_allocations GROUP BY entry_id) al ON al.entry_id = e.id
            LEFT JOIN (SELECT entry_id, sum(amount) AS amount FROM grants GROUP BY entry_id) c ON c.entry_id = e.id
        ), running AS (
            SELECT id, user_id, made, sum(made) OVER w AS debt_after, lead(id) OVER w IS NULL AS last
            FROM change
            WINDOW w AS (PARTITION BY user_id ORDER BY id ROWS UNBOUNDED PRECEDING)
        )
        SELECT r.id, r.user_id, r.debt_after, r.last, a.debt
        FROM running r JOIN accounts a ON a.user_id = r.user_id
        WHERE (r.debt_after < 0 AND r.debt_after - r.made >= 0) OR (r.last AND r.debt_after <> a.debt)
        UNION ALL
        SELECT NULL, a.user_id, 0, true, a.debt
        FROM accounts a
        WHERE a.debt <> 0 AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.user_id = a.user_id)
        ORDER BY 2, 1
        """)

    /// allocation_owner: allocations on a grant of another user than their entry's (`kind`
    /// allocation), and grants created by another user's entry (`kind` grant).
    public static let verifyAllocationOwner = Query("ledger_verify_allocation_owner", """
        SELECT 'allocation' AS kind, e.user_id, la.entry_id, la.grant_id, g.user_id AS other_user
        FROM ledger_allocations la
        JOIN ledger_entries e ON e.id = la.entry_id
        JOIN grants g ON g.id = la.grant_id
        WHERE g.user_id <> e.user_id
        UNION ALL
        SELECT 'grant', g.user_id, g.entry_id, g.id, e.user_id
        FROM grants g JOIN ledger_entries e ON e.id = g.entry_id
        WHERE e.user_id <> g.user_id
        ORDER BY 2, 3, 4
        """)

    /// payment_grant: payments whose grant is wrong. A paid payment with credits bought exactly
    /// one grant (`grant_id`): the payment's user's, of its credits, linked back to it
    /// (`payment_id`), of the source its kind buys (checkout: topup, invoice: subscription), and
    /// no other grant says it came from the payment except give-backs (entries of a kind in
    /// `$1`: a won dispute). A failed payment, or one without credits, bought none.
    public static let verifyPaymentGrant = Query("ledger_verify_payment_grant", """
        WITH bought AS (
            SELECT g.payment_id, count(*) AS n
            FROM grants g JOIN ledger_entries e ON e.id = g.entry_id
            WHERE g.payment_id IS NOT NULL AND e.kind <> ALL($1::text[])
            GROUP BY g.payment_id
        )
        SELECT p.id, p.user_id, p.kind, p.status, p.credits, p.grant_id, g.id IS NOT NULL AS grant_found,
               g.user_id AS grant_user, g.amount AS grant_amount, g.source AS grant_source, g.payment_id AS grant_payment,
               COALESCE(b.n, 0) AS grants
        FROM payments p
        LEFT JOIN grants g ON g.id = p.grant_id
        LEFT JOIN bought b ON b.payment_id = p.id
        WHERE CASE WHEN p.status = 'paid' AND p.credits > 0
                   THEN p.grant_id IS NULL OR g.id IS NULL OR g.user_id <> p.user_id OR g.amount <> p.credits
                        OR g.payment_id IS DISTINCT FROM p.id OR COALESCE(b.n, 0) <> 1
                        OR g.source <> CASE p.kind WHEN 'invoice' THEN 'subscription' ELSE 'topup' END
                   ELSE p.grant_id IS NOT NULL OR COALESCE(b.n, 0) <> 0
              END
        ORDER BY p.user_id, p.id
        """)

    /// grant_payment: grants that say they came from a payment (`payment_id`) that does not
    /// exist, is another user's, or was not paid.
    public static let verifyGrantPayment = Query("ledger_verify_grant_payment", """
        SELECT g.id, g.user_id, g.payment_id, p.id IS NOT NULL AS found, p.user_id AS payment_user, p.status
        FROM grants g LEFT JOIN payments p ON p.id = g.payment_id
        WHERE g.payment_id IS NOT NULL AND (p.id IS NULL OR p.user_id <> g.user_id OR p.status <> 'paid')
        ORDER BY g.user_id, g.id
        """)

    /// purchase_grant: crypto purchases whose grant is wrong. A purchase in a status of `$1`
    /// (granted: paid, overpaid, and reversed after) has a grant (`grant_id`) that exists, is
    /// the purchase's user's, holds its credits, is of source `$2` (crypto), was created by the
    /// entry `$3 || id` (its ledger reference), and is claimed by no other purchase; a purchase
    /// in any other status has none.
    public static let verifyPurchaseGrant = Query("ledger_verify_purchase_grant", """
        WITH claims AS (SELECT grant_id, count(*) AS n FROM crypto_purchases WHERE grant_id IS NOT NULL GROUP BY grant_id)
        SELECT p.id::text AS id, p.user_id, p.status, p.credits, p.grant_id, g.id IS NOT NULL AS grant_found,
               g.user_id AS grant_user, g.amount AS grant_amount, g.source AS grant_source, e.reference AS grant_reference,
               COALESCE(c.n, 0) AS claims
        FROM crypto_purchases p
        LEFT JOIN grants g ON g.id = p.grant_id
        LEFT JOIN ledger_entries e ON e.id = g.entry_id
        LEFT JOIN claims c ON c.grant_id = p.grant_id
        WHERE CASE WHEN p.status = ANY($1::text[])
                   THEN g.id IS NULL OR g.user_id <> p.user_id COLLATE "C" OR g.amount IS DISTINCT FROM p.credits OR g.source <> $2
                        OR e.reference IS DISTINCT FROM $3 || p.id::text OR c.n <> 1
                   ELSE p.grant_id IS NOT NULL
              END
        ORDER BY p.user_id, p.id
        """)

    /// hold_balance: holds whose entries (found by their references, a unique index) do not
    /// match the row (sql/0017): the hold entry −reserved; the release +reserved once ended and
    /// none while held; the capture −captured (none when 0).
    public static let verifyHoldBalance = Query("ledger_verify_hold_balance", """
        SELECT * FROM (
            SELECT h.id, h.user_id, h.status, h.reserved, h.captured,
                   (SELECT -amount FROM ledger_entries WHERE reference = 'hold:' || h.id) AS hold_entry,
                   (SELECT amount FROM ledger_entries WHERE reference = 'hold.release:' || h.id) AS released,
                   (SELECT -amount FROM ledger_entries WHERE reference = 'hold.capture:' || h.id) AS captured_entry
            FROM holds h
        ) x
        WHERE hold_entry IS DISTINCT FROM reserved
           OR (status = 'held' AND released IS NOT NULL)
           OR (status <> 'held' AND released IS DISTINCT FROM reserved)
           OR COALESCE(captured_entry, 0) <> captured
        ORDER BY user_id, id
        """)

    /// transfer_balance: transfers whose entries (by their references: the unique index, and a
    /// prefix range for the recipient's `transfer:<id>:in:<k>`) do not match the row (sql/0018),
    /// on the right users.
    public static let verifyTransferBalance = Query("ledger_verify_transfer_balance", """
        SELECT * FROM (
            SELECT t.id, t.from_user_id, t.status, t.credits,
                   COALESCE((SELECT -sum(amount) FROM ledger_entries
                             WHERE reference IN ('transfer:' || t.id || ':out', 'transfer:' || t.id || ':escrow') AND user_id = t.from_user_id), 0) AS taken,
                   COALESCE((SELECT sum(amount) FROM ledger_entries
                             WHERE reference LIKE 'transfer:' || t.id || ':in:%' AND user_id = t.to_user_id), 0) AS delivered,
                   COALESCE((SELECT sum(amount) FROM ledger_entries
                             WHERE reference = 'transfer:' || t.id || ':refund' AND user_id = t.from_user_id), 0) AS refunded
            FROM transfers t
        ) x
        WHERE taken <> credits
           OR delivered <> CASE WHEN status IN ('completed', 'released') THEN credits ELSE 0 END
           OR refunded <> CASE WHEN status = 'refunded' THEN credits ELSE 0 END
        ORDER BY from_user_id, id
        """)

    public static let countAccounts = Query("ledger_count_accounts", "SELECT count(*) AS n FROM accounts")
}
