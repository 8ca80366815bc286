-- 0021: auto top-up (DESIGN.md, "Balance alerts and auto top-up"; docs/ledger.md, "Auto top-up").
--
-- A checkout with a customer records it (and the payment intent whose method it saved) here;
-- `PUT /v1/accounts/{user_id}/auto-topup` turns it on. When a ledger book takes an account's
-- balance from at or above `threshold` to below it, the same transaction enqueues one
-- `topup.charge` (keyed by the crossing entry), which checks the month's limit under the
-- account's lock, records the charge, and asks Stripe for an off-session PaymentIntent (with an
-- Idempotency-Key). `payment_intent.succeeded` grants the product's credits through the inbox,
-- once. A decline or `authentication_required` pauses auto top-up until it is set again.
CREATE TABLE auto_topups (
    user_id             text COLLATE "C" PRIMARY KEY REFERENCES accounts (user_id),
    enabled             boolean NOT NULL DEFAULT false,
    threshold           bigint CHECK (threshold >= 0 AND threshold <= 1000000000000),
    product             text REFERENCES products (name),
    monthly_limit_cents bigint CHECK (monthly_limit_cents >= 0),
    customer            text,      -- cus_…, from a checkout
    payment_intent      text,      -- the checkout's pi_… whose payment method was saved
    payment_method      text,      -- pm_…, read from that payment intent when first needed
    paused_reason       text,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT enabled OR (threshold IS NOT NULL AND product IS NOT NULL AND monthly_limit_cents IS NOT NULL))
);

-- What the ledger book reads with the account's lock (no second query per book): the
-- threshold when auto top-up is on and not paused, else NULL.
ALTER TABLE accounts ADD COLUMN auto_topup_threshold bigint;

CREATE TABLE topup_charges (
    id                text COLLATE "C" PRIMARY KEY CHECK (id ~ '^topup_[0-9a-f]{24}$'),
    user_id           text COLLATE "C" NOT NULL REFERENCES accounts (user_id),
    product           text NOT NULL,
    amount_cents      bigint NOT NULL CHECK (amount_cents > 0),
    credits           bigint NOT NULL CHECK (credits > 0 AND credits <= 1000000000000),
    month             date NOT NULL,
    status            text NOT NULL CHECK (status IN ('requested', 'succeeded', 'declined', 'failed')),
    payment_intent_id text UNIQUE,
    error             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX topup_charges_month_idx ON topup_charges (user_id, month);

-- A top-up's payment is a PaymentIntent of its own (no checkout, no invoice).
ALTER TABLE payments DROP CONSTRAINT payments_kind_check;
ALTER TABLE payments ADD CONSTRAINT payments_kind_check CHECK (kind IN ('checkout', 'invoice', 'payment_intent'));
ALTER TABLE payments DROP CONSTRAINT payments_check;
ALTER TABLE payments ADD CONSTRAINT payments_check
    CHECK (checkout_session_id IS NOT NULL OR invoice_id IS NOT NULL OR payment_intent_id IS NOT NULL);

INSERT INTO ingress_kinds (kind, queue, fields, key_prefix, key_field, key_exact) VALUES
    ('account.auto_topup', 'default', '{"user_id": "string", "enabled": "boolean", "threshold": "number?", "product": "string?", "monthly_limit_cents": "number?"}', NULL, NULL, false);
