import Postgres

/// Every statement of the Stripe handlers, named and kept together.
enum StripeQueries {
    // MARK: The inbox

    static let loadEvent = Query("stripe_load_event", """
        SELECT id, type, created, received_at, payload, processed_at, flagged_at FROM stripe_events WHERE id = $1
        """)

    /// Locks the event for the transaction that applies it: duplicate jobs of one event
    /// (redeliveries that slipped past the job key) wait here and then find it processed.
    static let lockEvent = Query("stripe_lock_event", """
        SELECT processed_at, outcome FROM stripe_events WHERE id = $1 FOR UPDATE
        """)

    /// Locks the events of a batch, in id order (two batches sharing an event wait in turn).
    /// Not prepared: an array lookup, planned for its size each time (see LedgerQueries).
    static let lockEvents = Query(adHoc: """
        SELECT id, type, created, received_at, payload, processed_at, flagged_at FROM stripe_events
        WHERE id = ANY($1::text[])
        ORDER BY id
        FOR UPDATE
        """)

    /// `markProcessed` for a batch: `$1` ids, `$2` their outcomes.
    static let markProcessedMany = Query(adHoc: """
        UPDATE stripe_events e SET processed_at = now(), outcome = m.outcome, waiting_for = NULL
        FROM unnest($1::text[], $2::jsonb[]) AS m(id, outcome)
        WHERE e.id = m.id
        """)

    static let markProcessed = Query("stripe_mark_processed", """
        UPDATE stripe_events SET processed_at = now(), outcome = $2::jsonb, waiting_for = NULL WHERE id = $1
        """)

    /// Records what a snoozing event waits for and which job waits, and flags it to operators
    /// once it has waited `$4` seconds since it arrived. Returns whether it was flagged just now.
    static let markWaiting = Query("stripe_mark_waiting", """
        UPDATE stripe_events SET
            waiting_for = $2::text[],
            job_id = $3::bigint,
            flag_reason = CASE WHEN flagged_at IS NULL AND received_at <= now() - $4::bigint * interval '1 second'
                               THEN $5 ELSE flag_reason END,
            flagged_at = CASE WHEN flagged_at IS NULL AND received_at <= now() - $4::bigint * interval '1 second'
                              THEN now() ELSE flagged_at END
        WHERE id = $1
        RETURNING received_at, flagged_at IS NOT NULL AND flagged_at >= now() AS flagged_now
        """)

    static let flag = Query("stripe_flag", """
        UPDATE stripe_events SET flagged_at = COALESCE(flagged_at, now()), flag_reason = $2 WHERE id = $1
        """)

    /// Events waiting for any of these keys (`payment_intent:pi_…`, `charge:ch_…`,
    /// `subscription:sub_…`, …) are made due now; the scheduler promotes them within its
    /// interval (a second by default). Only after `lockKeys` in the same transaction: a waiting
    /// job still `running` would not match (StripeEventJob, "Waiting").
    static let wakeWaiting = Query("stripe_wake_waiting", """
        UPDATE jobs SET run_at = now()
        WHERE state = 'scheduled' AND id IN (
            SELECT job_id FROM stripe_events
            WHERE processed_at IS NULL AND waiting_for && $1::text[] AND job_id IS NOT NULL)
        """)

    /// Transaction-scoped advisory locks on waiting keys: exclusive for the transaction that
    /// decides to wait (`lockKeys`), shared for the ones that record what keys name
    /// (`shareKeys`), so recorders never wait for each other and each waits only for a waiter.
    ///
    /// Keys are hashed into 1,024 buckets, one lock each (the two-number form, class
    /// `stripeWaitingLockClass`, so they never meet other areas' advisory locks): a batch of
    /// 1,000 top-ups would otherwise take 1,000 locks, and PostgreSQL's lock table holds only
    /// `max_locks_per_transaction` × `max_connections` (6,400 by default) for every session
    /// together. Two keys in one bucket only make a waiter wait for an unrelated recorder's
    /// commit (milliseconds). One statement, in bucket order, so no two transactions take them
    /// in opposite orders; the subquery fixes that order (PostgreSQL's advice for advisory locks).
    static let lockKeys = Query("stripe_lock_keys", """
        SELECT pg_advisory_xact_lock(\(stripeWaitingLockClass), k.bucket) FROM (
            SELECT DISTINCT (hashtextextended(key, 0) & 1023)::int AS bucket FROM unnest($1::text[]) AS key ORDER BY 1
        ) AS k
        """)

    static let shareKeys = Query("stripe_share_keys", """
        SELECT pg_advisory_xact_lock_shared(\(stripeWaitingLockClass), k.bucket) FROM (
            SELECT DISTINCT (hashtextextended(key, 0) & 1023)::int AS bucket FROM unnest($1::text[]) AS key ORDER BY 1
        ) AS k
        """)

    /// The advisory lock class of Stripe waiting keys ("STWP").
    static let stripeWaitingLockClass: Int32 = 0x5354_5750

    /// Which of these waiting keys name something recorded now: what the event that wakes each
    /// key records (`payment_intent:` and `charge:` a paid payment, as paymentForCharge looks
    /// them up; `invoice:` an invoice's payment; `subscription:` the subscription and its user).
    /// Other keys are never counted as recorded.
    static let awaitedRecorded = Query("stripe_awaited_recorded", """
        SELECT key FROM unnest($1::text[]) AS key
        WHERE (starts_with(key, 'payment_intent:')
               AND EXISTS (SELECT 1 FROM payments WHERE payment_intent_id = substr(key, 16) AND status = 'paid'))
           OR (starts_with(key, 'charge:')
               AND EXISTS (SELECT 1 FROM payments WHERE charge_id = substr(key, 8) AND status = 'paid'))
           OR (starts_with(key, 'invoice:')
               AND EXISTS (SELECT 1 FROM payments WHERE invoice_id = substr(key, 9)))
           OR (starts_with(key, 'subscription:')
               AND EXISTS (SELECT 1 FROM subscriptions WHERE id = substr(key, 14)))
        """)

    // MARK: Payments

    static let insertCheckoutPayment = Query("stripe_insert_checkout_payment", """
        INSERT INTO payments (user_id, kind, status, checkout_session_id, payment_intent_id, amount, currency, credits, event_id)
        VALUES ($1, 'checkout', $2, $3, $4, $5::bigint, $6, $7::bigint, $8)
        ON CONFLICT DO NOTHING
        RETURNING id, grant_id
        """)

    /// Records paid top-up checkouts (`$1` users, `$2` sessions, `$3` payment intents, `$4`
    /// amounts, `$5` currencies, `$6` credits, `$7` event ids) and returns each session's
    /// payment, new or recorded before (a redelivery under another event id). One statement
    /// for a whole batch; the lookup reads the snapshot before the insert, the insert's own
    /// rows come from RETURNING. Not prepared: planned for each batch's size.
    static let recordCheckoutPayments = Query(adHoc: """
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::text[])
                WITH ORDINALITY AS i(user_id, session, payment_intent, amount, currency, credits, event_id, n)
        ), inserted AS (
            INSERT INTO payments (user_id, kind, status, checkout_session_id, payment_intent_id, amount, currency, credits, event_id)
            SELECT user_id, 'checkout', 'paid', session, payment_intent, amount, currency, credits, event_id FROM input ORDER BY n
            ON CONFLICT DO NOTHING
            RETURNING id, checkout_session_id
        )
        SELECT i.session, COALESCE(n.id, p.id) AS id
        FROM input i
        LEFT JOIN inserted n ON n.checkout_session_id = i.session
        LEFT JOIN payments p ON p.checkout_session_id = i.session
        ORDER BY i.n
        """)

    /// Links payments to the grants they bought: `$1` payment ids, `$2` grant ids.
    static let setPaymentGrants = Query(adHoc: """
        UPDATE payments p SET grant_id = g.grant_id, updated_at = now()
        FROM unnest($1::bigint[], $2::bigint[]) AS g(id, grant_id)
        WHERE p.id = g.id
        """)

    static let paymentByCheckout = Query("stripe_payment_by_checkout", """
        SELECT id, grant_id, status FROM payments WHERE checkout_session_id = $1
        """)

    static let insertInvoicePayment = Query("stripe_insert_invoice_payment", """
        INSERT INTO payments (user_id, kind, status, invoice_id, subscription_id, payment_intent_id, charge_id, amount, currency,
                              credits, event_id)
        VALUES ($1, 'invoice', 'paid', $2, $3, $4, $5, $6::bigint, $7, $8::bigint, $9)
        ON CONFLICT DO NOTHING
        RETURNING id, grant_id
        """)

    static let paymentByInvoice = Query("stripe_payment_by_invoice", """
        SELECT id, grant_id FROM payments WHERE invoice_id = $1
        """)

    /// Fills in a payment's payment intent and charge once known (never overwrites).
    static let linkPayment = Query("stripe_link_payment", """
        UPDATE payments SET payment_intent_id = COALESCE(payment_intent_id, $2), charge_id = COALESCE(charge_id, $3),
                            updated_at = now()
        WHERE id = $1
        """)

    static let setPaymentGrant = Query("stripe_set_payment_grant", """
        UPDATE payments SET grant_id = $2::bigint, updated_at = now() WHERE id = $1
        """)

    /// The payment a charge belongs to: by charge id, else payment intent, else invoice.
    static let paymentForCharge = Query("stripe_payment_for_charge", """
        SELECT id, user_id, credits, amount, grant_id FROM payments
        WHERE status = 'paid' AND (charge_id = $1 OR payment_intent_id = $2 OR invoice_id = $3)
        ORDER BY (charge_id = $1) DESC NULLS LAST, id
        LIMIT 1
        """)

    static let grantShape = Query("stripe_grant_shape", """
        SELECT source, expires_at FROM grants WHERE id = $1
        """)

    // MARK: Subscriptions

    static let subscriptionUser = Query("stripe_subscription_user", """
        SELECT user_id, status FROM subscriptions WHERE id = $1
        """)

    /// A subscription checkout: records whose subscription it is; its state comes from the
    /// subscription's own events and invoices.
    static let recordSubscription = Query("stripe_record_subscription", """
        INSERT INTO subscriptions (id, user_id, status, price_id) VALUES ($1, $2, 'active', $3)
        ON CONFLICT (id) DO NOTHING
        """)

    /// customer.subscription.*: applies the state unless a newer event was applied already; a
    /// canceled subscription stays canceled (Stripe never revives one). Returns a row when applied.
    static let applySubscriptionState = Query("stripe_apply_subscription_state", """
        INSERT INTO subscriptions (id, user_id, status, current_period_end, cancel_at_period_end, price_id, last_event_created)
        VALUES ($1, $2, $3, $4::timestamptz, $5::boolean, $6, $7::timestamptz)
        ON CONFLICT (id) DO UPDATE SET
            status = CASE WHEN subscriptions.status = 'canceled' THEN 'canceled' ELSE EXCLUDED.status END,
            current_period_end = COALESCE(EXCLUDED.current_period_end, subscriptions.current_period_end),
            cancel_at_period_end = EXCLUDED.cancel_at_period_end,
            price_id = COALESCE(EXCLUDED.price_id, subscriptions.price_id),
            last_event_created = EXCLUDED.last_event_created,
            updated_at = now()
        WHERE subscriptions.last_event_created IS NULL OR subscriptions.last_event_created <= EXCLUDED.last_event_created
        RETURNING status
        """)

    /// invoice.payment_failed: past due, unless a newer event says otherwise or it ended.
    static let markPastDue = Query("stripe_mark_past_due", """
        INSERT INTO subscriptions (id, user_id, status, last_event_created) VALUES ($1, $2, 'past_due', $3::timestamptz)
        ON CONFLICT (id) DO UPDATE SET status = 'past_due', last_event_created = EXCLUDED.last_event_created, updated_at = now()
        WHERE (subscriptions.last_event_created IS NULL OR subscriptions.last_event_created <= EXCLUDED.last_event_created)
          AND subscriptions.status NOT IN ('canceled', 'incomplete_expired')
        RETURNING status
        """)

    /// invoice.paid: the period runs to the line's end; a past-due (unpaid, incomplete)
    /// subscription is active again unless a newer event was applied. The event's time counts
    /// as applied, so an older payment failure arriving later cannot make it past due again.
    static let subscriptionPaid = Query("stripe_subscription_paid", """
        INSERT INTO subscriptions (id, user_id, status, current_period_end, last_event_created)
        VALUES ($1, $2, 'active', $3::timestamptz, $4::timestamptz)
        ON CONFLICT (id) DO UPDATE SET
            status = CASE WHEN subscriptions.status IN ('past_due', 'unpaid', 'incomplete')
                           AND (subscriptions.last_event_created IS NULL OR subscriptions.last_event_created <= EXCLUDED.last_event_created)
                          THEN 'active' ELSE subscriptions.status END,
            current_period_end = GREATEST(subscriptions.current_period_end, EXCLUDED.current_period_end),
            last_event_created = GREATEST(subscriptions.last_event_created, EXCLUDED.last_event_created),
            updated_at = now()
        RETURNING status
        """)

    // MARK: Clawbacks

    static let openClawback = Query("stripe_open_clawback", """
        INSERT INTO clawbacks (charge_id, payment_id, user_id, amount_charged) VALUES ($1, $2::bigint, $3, $4::bigint)
        ON CONFLICT (charge_id) DO NOTHING
        """)

    static let lockClawback = Query("stripe_lock_clawback", """
        SELECT amount_charged, amount_refunded, dispute_id, dispute_amount, dispute_status, dispute_event_created,
               credits_taken, steps
        FROM clawbacks WHERE charge_id = $1 FOR UPDATE
        """)

    static let updateClawback = Query("stripe_update_clawback", """
        UPDATE clawbacks SET amount_charged = $2::bigint, amount_refunded = $3::bigint, dispute_id = $4, dispute_amount = $5::bigint,
            dispute_status = $6, dispute_event_created = $7::timestamptz, credits_taken = $8::bigint, steps = $9::int,
            updated_at = now()
        WHERE charge_id = $1
        """)
}
