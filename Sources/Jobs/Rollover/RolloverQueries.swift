import Postgres

/// The statements of credits.rollover (its fan-out's are in LedgerQueries).
public enum RolloverQueries {
    /// The subscriptions of a batch's accounts: whether each has ended and its period end.
    static let subscriptions = Query("rollover_subscriptions", """
        SELECT user_id, status, current_period_end, cancel_at_period_end FROM subscriptions
        WHERE user_id = ANY($1::text[])
        """)

    /// One month's allowance: the credits of the `monthly` product (DESIGN.md: 250).
    static let monthlyAllowance = Query("rollover_monthly_allowance", """
        SELECT credits FROM products WHERE name = 'monthly'
        """)
}
