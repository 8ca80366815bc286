-- 0007: rewards, streaks, referrals and notification delivery (DESIGN.md, "The ledger" →
-- Rewards, Streaks, Referrals; "Notifications"); docs/rewards-and-notifications.md.
--
-- Rollover (credits.rollover) needs no table of its own: a settlement is ledger entries with
-- unique references (rollover:<user>:<grant id>), found again through the grants it emptied.
--
-- User ids compare bytewise (COLLATE "C") like the ledger's keys (0004).
-- Nothing here is shown by a read endpoint (GET …/notifications reads 0004's notifications),
-- so tally_ingress is granted nothing: it must never read an endpoint's signing secret.

-- What an app action earns. `tally rewards list|set`. The cap counts credits per user, per
-- action, per UTC day; an action that would cross it grants up to the cap.
CREATE TABLE reward_rules (
    action     text PRIMARY KEY CHECK (action ~ '^[a-z][a-z0-9_.-]{0,63}$'),
    credits    bigint NOT NULL CHECK (credits >= 0),
    daily_cap  bigint NOT NULL CHECK (daily_cap >= 0),
    enabled    boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO reward_rules (action, credits, daily_cap) VALUES
    ('daily_login', 1, 1),
    ('post_like', 1, 5),
    ('watch_milestone', 2, 10),
    ('ad_view', 1, 5)
ON CONFLICT (action) DO NOTHING;

-- Every accepted app action (rewards.action), once per user and idempotency key for ever, with
-- the credits it earned (0 once the day's cap is reached). The activity record streaks read:
-- a UTC day with any row here is an active day.
CREATE TABLE reward_actions (
    user_id         text COLLATE "C" NOT NULL REFERENCES accounts (user_id),
    idempotency_key text COLLATE "C" NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    action          text NOT NULL,
    day             date NOT NULL,          -- the UTC day the action was accepted (its job's created_at)
    credits         bigint NOT NULL CHECK (credits >= 0),
    job_id          bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, idempotency_key)
);
-- The cap (day, user, action) and the streak scan (the users active on a day, in user order).
CREATE INDEX reward_actions_day_idx ON reward_actions (day, user_id, action);

-- One row per user who ever had an active day. streaks.evaluate applies each UTC day once
-- (evaluated_through), in order.
CREATE TABLE streaks (
    user_id           text COLLATE "C" PRIMARY KEY REFERENCES accounts (user_id),
    length            integer NOT NULL DEFAULT 0 CHECK (length >= 0),   -- 0: no live streak
    started_on        date,                     -- the first day of the live streak
    last_active_day   date,
    milestone_paid    integer NOT NULL DEFAULT 0 CHECK (milestone_paid >= 0),  -- highest milestone (days) paid in the live streak
    best              integer NOT NULL DEFAULT 0 CHECK (best >= 0),
    evaluated_through date NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- The live streaks a day without activity breaks.
CREATE INDEX streaks_live_idx ON streaks (user_id) WHERE length > 0;

-- The days streaks.evaluate has finished, with what it did.
CREATE TABLE streak_days (
    day          date PRIMARY KEY,
    active       bigint NOT NULL,
    extended     bigint NOT NULL,
    started      bigint NOT NULL,
    broken       bigint NOT NULL,
    milestones   bigint NOT NULL,
    credits      bigint NOT NULL,
    evaluated_at timestamptz NOT NULL DEFAULT now()
);

-- Referral codes (`tally referrals create USER`). A use is a referral rewarded; a code gives
-- at most max_uses rewards.
CREATE TABLE referral_codes (
    code       text COLLATE "C" PRIMARY KEY CHECK (code ~ '^[A-Z0-9_-]{4,64}$'),
    user_id    text COLLATE "C" NOT NULL REFERENCES accounts (user_id),
    max_uses   integer NOT NULL CHECK (max_uses >= 0),
    uses       integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX referral_codes_user_idx ON referral_codes (user_id);

-- Each referred user is rewarded once (both sides, in one transaction with this row).
CREATE TABLE referral_rewards (
    referred_user_id text COLLATE "C" PRIMARY KEY REFERENCES accounts (user_id),
    referrer_user_id text COLLATE "C" NOT NULL REFERENCES accounts (user_id),
    code             text COLLATE "C" NOT NULL REFERENCES referral_codes (code),
    credits          bigint NOT NULL CHECK (credits >= 0),   -- to each side
    job_id           bigint,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX referral_rewards_code_idx ON referral_rewards (code);

-- Where notifications are POSTed (`tally endpoints add URL|list|enable|disable|remove`). The
-- secret signs each POST, so it is kept as given (it cannot be hashed); it is shown once.
CREATE TABLE notify_endpoints (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url             text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2048),
    secret          text NOT NULL CHECK (length(secret) >= 16),
    enabled         boolean NOT NULL DEFAULT true,
    -- The first failed attempt since the last success; a day of failures disables the endpoint.
    failing_since   timestamptz,
    last_success_at timestamptz,
    last_failure_at timestamptz,
    disabled_at     timestamptz,
    disabled_reason text,
    removed_at      timestamptz,            -- removed endpoints stay for their delivery log
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Read for every notification written (Inbox): the endpoints to deliver to.
CREATE INDEX notify_endpoints_active_idx ON notify_endpoints (id) WHERE enabled AND removed_at IS NULL;

-- One row per delivery attempt (notify.deliver), success or not.
CREATE TABLE notify_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id     bigint NOT NULL REFERENCES notify_endpoints (id),
    notification_id bigint NOT NULL REFERENCES notifications (id),
    job_id          bigint,
    attempt         integer NOT NULL,
    succeeded       boolean NOT NULL,
    status          integer,                -- the HTTP status; NULL when no answer came
    error           text,
    duration_ms     integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notify_deliveries_endpoint_idx ON notify_deliveries (endpoint_id, id);
CREATE INDEX notify_deliveries_notification_idx ON notify_deliveries (notification_id);
