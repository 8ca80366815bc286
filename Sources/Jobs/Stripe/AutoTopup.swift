import Foundation
import Postgres
import Queue
import Support

/// Auto top-up (DESIGN.md, "Balance alerts and auto top-up"; sql/0021): when a debit takes a
/// balance below the account's threshold, charge its saved card off-session for a product,
/// within a monthly limit; the credits arrive through `payment_intent.succeeded`, as any
/// Stripe payment's do.
public enum AutoTopup {
    /// The settings of one account (`PUT /v1/accounts/{user_id}/auto-topup`).
    public struct Setting: Sendable, Equatable {
        public var enabled: Bool
        public var threshold: Int64?
        public var product: String?
        public var monthlyLimitCents: Int64?

        public init(enabled: Bool, threshold: Int64?, product: String?, monthlyLimitCents: Int64?) {
            self.enabled = enabled
            self.threshold = threshold
            self.product = product
            self.monthlyLimitCents = monthlyLimitCents
        }
    }

    /// `account.auto_topup`: stores the setting under the account's lock (turning it on again
    /// lifts a pause). Result `{user_id, enabled, threshold, product, monthly_limit_cents}` or a
    /// refusal; a product that does not exist or is a subscription is an error.
    public static func configure(userID: String, _ setting: Setting, on tx: Connection) throws -> JSON {
        let book = LedgerBook(tx)
        try book.load([userID])
        guard book.hasAccount(userID) else { return LedgerRefusal.accountNotFound.result() }
        if setting.enabled {
            guard let product = setting.product, let row = try tx.query(AutoTopupQueries.product, [product]).first else {
                throw LedgerError.invalid("auto top-up needs a product that exists (tally products list)")
            }
            guard !(try row.bool("monthly")) else { throw LedgerError.invalid("auto top-up buys a one-off product, not the subscription \(product)") }
            guard setting.threshold != nil, setting.monthlyLimitCents != nil else {
                throw LedgerError.invalid("auto top-up needs threshold, product and monthly_limit_cents")
            }
        }
        try tx.query(AutoTopupQueries.configure, [userID, setting.enabled, setting.threshold, setting.product, setting.monthlyLimitCents])
        return ["user_id": .string(userID), "enabled": .bool(setting.enabled), "threshold": .optional(setting.threshold),
                "product": .optional(setting.product), "monthly_limit_cents": .optional(setting.monthlyLimitCents)]
    }

    /// A checkout that paid with a customer: remember the customer and the payment intent whose
    /// method it may have saved (the method itself is read from Stripe when a top-up needs it).
    static func rememberCustomer(userID: String, session: JSON, on tx: Connection) throws {
        guard let customer = StripeEvent.id(session["customer"]) else { return }
        try tx.query(AutoTopupQueries.rememberCustomer, [userID, customer, StripeEvent.id(session["payment_intent"])])
    }

    /// The id of the charge a crossing makes: one per account and crossing entry.
    public static func chargeID(userID: String, entryID: Int64) -> String {
        PrefixedID.make(prefix: "topup_", name: "topup:\(userID):\(entryID)")
    }

    /// Enqueues one `topup.charge` per crossing, in the crossing transaction.
    static func enqueueCharges(_ crossings: [(user: String, entry: Int64)], on tx: Connection) throws {
        let jobs = try crossings.map { c in
            let id = chargeID(userID: c.user, entryID: c.entry)
            return try TopupChargeJob.newJob(.init(user_id: c.user, charge_id: id), uniqueKey: "topup.charge:\(id)")
        }
        try Enqueuer().enqueue(jobs, on: tx)
    }
}

/// Every statement of auto top-up, kept together.
enum AutoTopupQueries {
    static let product = Query("topup_product", "SELECT name, credits, usd_cents, monthly FROM products WHERE name = $1")

    /// The setting, and the account's mirror of the threshold the ledger book reads.
    static let configure = Query("topup_configure", """
        WITH s AS (
            INSERT INTO auto_topups (user_id, enabled, threshold, product, monthly_limit_cents, paused_reason, updated_at)
            VALUES ($1, $2::boolean, $3::bigint, $4, $5::bigint, NULL, now())
            ON CONFLICT (user_id) DO UPDATE SET enabled = EXCLUDED.enabled, threshold = EXCLUDED.threshold, product = EXCLUDED.product,
                monthly_limit_cents = EXCLUDED.monthly_limit_cents, paused_reason = NULL, updated_at = now()
            RETURNING user_id, enabled, threshold
        )
        UPDATE accounts a SET auto_topup_threshold = CASE WHEN s.enabled THEN s.threshold END FROM s WHERE a.user_id = s.user_id
        """)

    static let rememberCustomer = Query("topup_remember_customer", """
        INSERT INTO auto_topups (user_id, customer, payment_intent) VALUES ($1, $2, $3)
        ON CONFLICT (user_id) DO UPDATE SET customer = EXCLUDED.customer,
            payment_intent = COALESCE(EXCLUDED.payment_intent, auto_topups.payment_intent),
            payment_method = CASE WHEN auto_topups.customer IS DISTINCT FROM EXCLUDED.customer
                                    OR EXCLUDED.payment_intent IS DISTINCT FROM auto_topups.payment_intent
                                  THEN NULL ELSE auto_topups.payment_method END,
            updated_at = now()
        """)

    /// After the account (the lock order).
    static let lockSetting = Query("topup_lock_setting", """
        SELECT t.enabled, t.threshold, t.product, t.monthly_limit_cents, t.customer, t.payment_intent, t.payment_method, t.paused_reason,
               p.credits, p.usd_cents, date_trunc('month', now())::date AS month
        FROM auto_topups t LEFT JOIN products p ON p.name = t.product
        WHERE t.user_id = $1 FOR UPDATE OF t
        """)

    /// What the month's top-ups took or are taking.
    static let monthSpent = Query("topup_month_spent", """
        SELECT COALESCE(sum(amount_cents), 0)::bigint AS spent FROM topup_charges
        WHERE user_id = $1 AND month = $2::date AND status IN ('requested', 'succeeded')
        """)

    static let charge = Query("topup_charge", """
        SELECT id, user_id, product, amount_cents, credits, status, payment_intent_id FROM topup_charges WHERE id = $1
        """)

    static let insertCharge = Query("topup_insert_charge", """
        INSERT INTO topup_charges (id, user_id, product, amount_cents, credits, month, status)
        VALUES ($1, $2, $3, $4::bigint, $5::bigint, $6::date, 'requested')
        """)

    static let chargeRequested = Query("topup_charge_requested", """
        UPDATE topup_charges SET payment_intent_id = $2, updated_at = now() WHERE id = $1
        """)

    static let chargeEnded = Query("topup_charge_ended", """
        UPDATE topup_charges SET status = $2, error = $3, payment_intent_id = COALESCE($4, payment_intent_id), updated_at = now()
        WHERE id = $1 AND status = 'requested'
        RETURNING id
        """)

    static let savePaymentMethod = Query("topup_save_payment_method", """
        UPDATE auto_topups SET payment_method = $2, updated_at = now() WHERE user_id = $1
        """)

    /// Paused after a decline: no charge until the app sets it again.
    static let pause = Query("topup_pause", """
        WITH p AS (UPDATE auto_topups SET paused_reason = $2, updated_at = now() WHERE user_id = $1 RETURNING user_id)
        UPDATE accounts a SET auto_topup_threshold = NULL FROM p WHERE a.user_id = p.user_id
        """)

    static let insertPayment = Query("topup_insert_payment", """
        INSERT INTO payments (user_id, kind, status, payment_intent_id, charge_id, amount, currency, credits, event_id)
        VALUES ($1, 'payment_intent', 'paid', $2, $3, $4::bigint, $5, $6::bigint, $7)
        ON CONFLICT (payment_intent_id) DO NOTHING
        RETURNING id
        """)

    static let paymentByIntent = Query("topup_payment_by_intent", "SELECT id FROM payments WHERE payment_intent_id = $1")
}
