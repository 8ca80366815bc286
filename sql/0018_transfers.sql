-- 0018: transfers between users, immediate or in escrow (DESIGN.md, "Transfers between users";
-- docs/ledger.md, "Transfers").
--
-- An immediate transfer is one transaction on both accounts (locked together, in user_id
-- order): a `transfer.out` entry takes the credits from the sender's transferable grants in
-- consumption order, and the recipient gets one `transfer` grant per expiry of what was taken
-- (`transfer.in` entries): each credit keeps the expiry it had. In escrow, a `transfer.escrow`
-- entry takes them from the sender and `allocations` keeps from where; a release gives the
-- recipient those grants (as an immediate transfer would have), a refund or the expiry gives
-- the sender its credits back to the grants they came from (`transfer.refund`).
ALTER TABLE grants DROP CONSTRAINT grants_source_check;
ALTER TABLE grants ADD CONSTRAINT grants_source_check CHECK (source IN ('trial', 'subscription', 'topup', 'crypto', 'reward',
    'streak', 'referral', 'rollover', 'adjustment', 'transfer'));

CREATE TABLE transfers (
    id           text COLLATE "C" PRIMARY KEY CHECK (id ~ '^transfer_[0-9a-f]{24}$'),
    from_user_id text COLLATE "C" NOT NULL REFERENCES accounts (user_id),
    to_user_id   text COLLATE "C" NOT NULL REFERENCES accounts (user_id),
    credits      bigint NOT NULL CHECK (credits > 0 AND credits <= 1000000000000),
    status       text NOT NULL CHECK (status IN ('completed', 'escrowed', 'released', 'refunded')),
    escrow       boolean NOT NULL,
    memo         text CHECK (length(memo) <= 500),
    -- [[grant_id, credits, expires_at or null], ...] taken from the sender, in order.
    allocations  jsonb NOT NULL,
    expires_at   timestamptz,          -- an escrow's: refunded then unless released
    created_at   timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz,
    CHECK (from_user_id <> to_user_id),
    CHECK (escrow = (expires_at IS NOT NULL)),
    CHECK ((status = 'escrowed') = (escrow AND ended_at IS NULL))
);
CREATE INDEX transfers_from_idx ON transfers (from_user_id, created_at);
CREATE INDEX transfers_to_idx ON transfers (to_user_id, created_at);
CREATE INDEX transfers_escrow_expiry_idx ON transfers (expires_at) WHERE status = 'escrowed';

GRANT SELECT ON transfers TO tally_ingress;

INSERT INTO ingress_kinds (kind, queue, fields, key_prefix, key_field, key_exact) VALUES
    ('transfer.create',  'default', '{"transfer_id": "string", "from_user_id": "string", "to_user_id": "string", "credits": "number", "escrow": "boolean?", "expires_in": "number?", "memo": "string?"}', 'transfer:', 'from_user_id', false),
    ('transfer.release', 'default', '{"transfer_id": "string", "actor": "string?"}', 'transfer.release:', 'transfer_id', true),
    ('transfer.refund',  'default', '{"transfer_id": "string", "actor": "string?"}', 'transfer.refund:', 'transfer_id', true);
