import Postgres

/// Every statement of rewards, streaks and referrals, named (prepared once per connection).
public enum RewardsQueries {
    // MARK: Rules (`tally rewards list|set`)

    public static let listRules = Query("rewards_list_rules", """
        SELECT action, credits, daily_cap, enabled, updated_at FROM reward_rules ORDER BY action
        """)

    static let rule = Query("rewards_rule", """
        SELECT action, credits, daily_cap, enabled FROM reward_rules WHERE action = $1
        """)

    /// Creates or changes a rule; `$3` NULL keeps the cap of an existing rule (a new rule needs one).
    public static let setRule = Query("rewards_set_rule", """
        INSERT INTO reward_rules (action, credits, daily_cap, enabled) VALUES ($1, $2::bigint, COALESCE($3::bigint, 0), $4::boolean)
        ON CONFLICT (action) DO UPDATE SET credits = EXCLUDED.credits,
            daily_cap = COALESCE($3::bigint, reward_rules.daily_cap), enabled = EXCLUDED.enabled, updated_at = now()
        RETURNING action, credits, daily_cap, enabled, updated_at
        """)

    // MARK: Actions (rewards.action)

    /// The action recorded with this key, if any (a replay answers what the first earned).
    static let actionByKey = Query("rewards_action_by_key", """
        SELECT action, day::text AS day, credits FROM reward_actions WHERE user_id = $1 AND idempotency_key = $2
        """)

    /// Credits this action already earned the user that day. Read under the account's lock,
    /// so two actions of one user never both see room under the cap.
    static let earnedToday = Query("rewards_earned_today", """
        SELECT COALESCE(sum(credits), 0)::bigint AS credits FROM reward_actions
        WHERE day = $1::date AND user_id = $2 AND action = $3
        """)

    static let recordAction = Query("rewards_record_action", """
        INSERT INTO reward_actions (user_id, idempotency_key, action, day, credits, job_id)
        VALUES ($1, $2, $3, $4::date, $5::bigint, $6::bigint)
        """)

    // MARK: Streaks (streaks.evaluate)

    /// Serialises runs of streaks.evaluate page by page (two overlapping runs take turns; the
    /// second finds every user already evaluated). Key: a constant of this code.
    static let streakLock = Query("rewards_streak_lock", "SELECT pg_advisory_xact_lock(7007001)")

    static let lastEvaluatedDay = Query("rewards_last_evaluated_day", """
        SELECT max(day)::text AS day FROM streak_days
        """)

    static let firstActivityDay = Query("rewards_first_activity_day", """
        SELECT min(day)::text AS day FROM reward_actions
        """)

    /// rewards.action jobs still to run that were accepted before `$1`: their activity belongs
    /// to a day about to be evaluated. One EXISTS per state, so each reads only the job table's
    /// partial index for that state (unfinished jobs), never the millions of finished rows.
    static let pendingActions = Query("rewards_pending_actions", """
        SELECT (EXISTS (SELECT 1 FROM jobs WHERE state = 'available' AND kind = 'rewards.action' AND created_at < $1::timestamptz)
             OR EXISTS (SELECT 1 FROM jobs WHERE state = 'running' AND kind = 'rewards.action' AND created_at < $1::timestamptz)
             OR EXISTS (SELECT 1 FROM jobs WHERE state IN ('scheduled', 'retryable') AND kind = 'rewards.action'
                          AND created_at < $1::timestamptz)) AS pending
        """)

    /// The next `$3` users after `$2` (in user order) a day changes: those active on day `$1`
    /// and those with a live streak. Each side is cut at `$3` through its index, so a page costs
    /// the same however many users there are.
    static let streakCandidates = Query("rewards_streak_candidates", """
        WITH a AS (
            SELECT DISTINCT user_id FROM reward_actions
            WHERE day = $1::date AND user_id > $2
            ORDER BY user_id LIMIT $3
        ), s AS (
            SELECT user_id FROM streaks
            WHERE length > 0 AND user_id > $2
            ORDER BY user_id LIMIT $3
        )
        SELECT user_id, bool_or(active) AS active FROM (
            SELECT user_id, true AS active FROM a
            UNION ALL
            SELECT user_id, false FROM s
        ) c
        GROUP BY user_id ORDER BY user_id LIMIT $3
        """)

    static let lockStreaks = Query("rewards_lock_streaks", """
        SELECT user_id, length, started_on::text AS started_on, last_active_day::text AS last_active_day, milestone_paid, best,
               evaluated_through::text AS evaluated_through
        FROM streaks WHERE user_id = ANY($1::text[]) ORDER BY user_id FOR UPDATE
        """)

    static let saveStreaks = Query("rewards_save_streaks", """
        INSERT INTO streaks (user_id, length, started_on, last_active_day, milestone_paid, best, evaluated_through)
        SELECT * FROM unnest($1::text[], $2::int[], $3::date[], $4::date[], $5::int[], $6::int[], $7::date[])
        ON CONFLICT (user_id) DO UPDATE SET length = EXCLUDED.length, started_on = EXCLUDED.started_on,
            last_active_day = EXCLUDED.last_active_day, milestone_paid = EXCLUDED.milestone_paid, best = EXCLUDED.best,
            evaluated_through = EXCLUDED.evaluated_through, updated_at = now()
        """)

    static let recordStreakDay = Query("rewards_record_streak_day", """
        INSERT INTO streak_days (day, active, extended, started, broken, milestones, credits)
        VALUES ($1::date, $2::bigint, $3::bigint, $4::bigint, $5::bigint, $6::bigint, $7::bigint)
        ON CONFLICT (day) DO NOTHING
        """)

    // MARK: Referrals

    public static let createCode = Query("rewards_create_referral_code", """
        INSERT INTO referral_codes (code, user_id, max_uses) VALUES ($1, $2, $3::int)
        ON CONFLICT (code) DO NOTHING
        RETURNING code, user_id, max_uses, uses, created_at
        """)

    public static let accountExists = Query("rewards_account_exists", """
        SELECT 1 FROM accounts WHERE user_id = $1
        """)

    /// The code the referred user signed up with, and whether they were rewarded already.
    static let referralOf = Query("rewards_referral_of", """
        SELECT a.referral_code, EXISTS (SELECT 1 FROM referral_rewards r WHERE r.referred_user_id = a.user_id) AS rewarded
        FROM accounts a WHERE a.user_id = $1
        """)

    /// A code's row, locked: its uses are counted under this lock. Codes are kept in capitals;
    /// the one an app passed at signup is matched whatever its case.
    static let lockCode = Query("rewards_lock_referral_code", """
        SELECT code, user_id, max_uses, uses FROM referral_codes WHERE code = upper($1) FOR UPDATE
        """)

    /// Whether grant `$1` is a payment (top-up, subscription, crypto) of user `$2`.
    static let paidGrant = Query("rewards_paid_grant", """
        SELECT 1 FROM grants WHERE id = $1::bigint AND user_id = $2 AND source IN ('topup', 'subscription', 'crypto')
        """)

    static let recordReferral = Query("rewards_record_referral", """
        WITH used AS (UPDATE referral_codes SET uses = uses + 1 WHERE code = $3)
        INSERT INTO referral_rewards (referred_user_id, referrer_user_id, code, credits, job_id)
        VALUES ($1, $2, $3, $4::bigint, $5::bigint)
        """)

    /// Of users who were just granted a payment, those who signed up with a referral code and
    /// have not been rewarded for it.
    static let referredUnrewarded = Query("rewards_referred_unrewarded", """
        SELECT a.user_id FROM accounts a
        WHERE a.user_id = ANY($1::text[]) AND a.referral_code IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM referral_rewards r WHERE r.referred_user_id = a.user_id)
        """)
}
