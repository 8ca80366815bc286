-- 0015: real time for app front ends (DESIGN.md, "Real time for app front ends"; docs/stream.md).
--
-- Every notification of a user gets `seq`: 1, 2, 3, … per user, with no gaps, in commit order.
-- It is taken from accounts.notification_seq in the statement that writes the notifications
-- (Inbox.write), which updates the account's row: that row lock is held to commit, so two
-- transactions of one user take their numbers one after the other and commit in that order.
-- The stream is the inbox read by seq, so a reconnect replays from here and nothing is lost.
ALTER TABLE accounts ADD COLUMN notification_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN seq bigint;

-- The notifications written before this migration, numbered in id order (the order they were
-- written in: every writer of one user's notifications held that user's account lock).
WITH numbered AS (
    SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY id) AS seq FROM notifications
)
UPDATE notifications n SET seq = numbered.seq FROM numbered WHERE n.id = numbered.id;
UPDATE accounts a SET notification_seq = m.seq
FROM (SELECT user_id, max(seq) AS seq FROM notifications GROUP BY user_id) m
WHERE a.user_id = m.user_id;
ALTER TABLE notifications ALTER COLUMN seq SET NOT NULL;
CREATE UNIQUE INDEX notifications_user_seq_idx ON notifications (user_id, seq);

-- The new notification types (holds, transfers, balance alerts, auto top-up).
ALTER TABLE notifications DROP CONSTRAINT notifications_type_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_type_check CHECK (type IN (
    'balance_update', 'transaction_complete', 'reward_earned', 'payment_failed', 'purchase_update',
    'balance_low', 'balance_depleted', 'balance_recovered', 'hold_update', 'transfer_update', 'topup_update'));

-- Stream tokens are an HMAC-SHA256 over the user, the expiry and a generation, keyed with
-- that generation's secret: every ingress verifies them from its cache of this table, with no
-- database round trip per stream. `tally stream-tokens revoke-all` adds a generation; tokens
-- of older ones stop working once each ingress reloads (TALLY_APIKEY_REFRESH, 5 s).
-- The secret is 244 random bits from PostgreSQL's strong random source (gen_random_uuid).
CREATE TABLE stream_token_keys (
    generation bigint PRIMARY KEY CHECK (generation > 0),
    secret     text NOT NULL CHECK (length(secret) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO stream_token_keys (generation, secret)
VALUES (1, replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));

-- The ingress mints and verifies tokens, and reads a user's notifications by seq for the stream.
GRANT SELECT ON stream_token_keys TO tally_ingress;
