-- 0017: holds, for work of unknown cost (DESIGN.md, "Holds"; docs/ledger.md, "Holds").
--
-- A hold reserves credits: one `hold` entry takes them from the grants in consumption order,
-- like a debit (they are not spendable while held), and `allocations` remembers from which
-- grants, in that order. It ends once:
--   captured  one `hold.release` entry gives every reserved credit back to the grant it came
--             from, and one `hold.capture` entry takes what the work cost from those same
--             grants, in the same order (even a grant that expired meanwhile: the credits were
--             reserved before), in one transaction;
--   voided    (by the app) or expired (by holds.expire): the `hold.release` entry alone.
-- Released credits of a grant that expired meanwhile are written off by credits.expire, as
-- they would have been. Every hold's entries balance: `tally ledger verify` checks
-- hold = release (once ended), capture <= hold, and the row's figures against the entries.
-- The row is locked after the user's account (docs/ledger.md, "Lock order").
CREATE TABLE holds (
    id            text COLLATE "C" PRIMARY KEY CHECK (id ~ '^hold_[0-9a-f]{24}$'),
    user_id       text COLLATE "C" NOT NULL REFERENCES accounts (user_id),
    status        text NOT NULL CHECK (status IN ('held', 'captured', 'voided', 'expired')),
    reserved      bigint NOT NULL CHECK (reserved > 0 AND reserved <= 1000000000000),
    captured      bigint NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= reserved),
    -- The agent priced by (agent, units), so a capture may say units too.
    agent         text,
    -- [[grant_id, credits], ...] in the order the hold took them.
    allocations   jsonb NOT NULL,
    hold_entry_id bigint NOT NULL REFERENCES ledger_entries (id),
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz,
    CHECK ((status = 'held') = (ended_at IS NULL)),
    CHECK (status = 'captured' OR captured = 0)
);
CREATE INDEX holds_user_idx ON holds (user_id) WHERE status = 'held';
CREATE INDEX holds_expiry_idx ON holds (expires_at) WHERE status = 'held';

-- GET /v1/holds/{id}, and `held` in GET /v1/accounts/{user_id} and the stream's snapshot.
GRANT SELECT ON holds TO tally_ingress;

-- What the ingress may enqueue for holds (sql/0011's allow-list).
INSERT INTO ingress_kinds (kind, queue, fields, key_prefix, key_field, key_exact) VALUES
    ('hold.create',  'default', '{"hold_id": "string", "user_id": "string", "credits": "number?", "agent": "string?", "units": "number?", "expires_in": "number?"}', 'hold:', 'user_id', false),
    ('hold.capture', 'default', '{"hold_id": "string", "credits": "number?", "units": "number?", "idempotency_key": "string"}', 'hold.capture:', 'hold_id', false),
    ('hold.void',    'default', '{"hold_id": "string"}', 'hold.void:', 'hold_id', true);
