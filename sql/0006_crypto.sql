-- 0006: crypto purchases through BitGo, priced from CoinGecko (DESIGN.md, "Payments" → Crypto);
-- docs/crypto.md tells the flow, the statuses and the decisions.
--
-- Amounts in base units (satoshi, wei) are numeric(78,0): exact whole numbers, far past
-- bigint (9.2 ETH in wei already overflows it). Prices are numeric, as CoinGecko wrote them.

-- The last price of each coin (prices.refresh, every minute). One row per coin, replaced only
-- by a newer price: a failed fetch leaves the last one, which a quote refuses once it is older
-- than 5 minutes (price_stale).
CREATE TABLE crypto_prices (
    coin            text PRIMARY KEY CHECK (coin IN ('btc', 'eth')),
    usd             numeric NOT NULL CHECK (usd > 0),
    last_updated_at timestamptz NOT NULL,          -- CoinGecko's own time of the price
    fetched_at      timestamptz NOT NULL           -- when Tally fetched it
);

CREATE TABLE crypto_purchases (
    id                  uuid PRIMARY KEY,           -- made by the ingress (POST /v1/purchases/crypto)
    user_id             text NOT NULL CHECK (length(user_id) BETWEEN 1 AND 256),
    -- No foreign key: a quote for an unknown product is recorded as failed.
    product             text NOT NULL CHECK (length(product) BETWEEN 1 AND 64),
    coin                text NOT NULL CHECK (coin IN ('btc', 'eth')),
    status              text NOT NULL DEFAULT 'quoting' CHECK (status IN (
                            'quoting', 'awaiting_payment', 'confirming', 'paid', 'underpaid', 'overpaid',
                            'expired', 'late', 'failed', 'reversed')),
    -- The quote: the product's credits and USD price then, the coin price used, the amount.
    credits             bigint CHECK (credits > 0),
    usd_cents           bigint CHECK (usd_cents >= 0),
    price_usd           numeric CHECK (price_usd > 0),
    price_updated_at    timestamptz,
    amount_base_units   numeric(78,0) CHECK (amount_base_units > 0),
    address             text CHECK (length(address) BETWEEN 1 AND 256),
    wallet_id           text,
    quoted_at           timestamptz,
    expires_at          timestamptz,
    -- What the chain brought: live money to the address, the fewest confirmations among it,
    -- the surplus of an overpaid purchase.
    received_base_units numeric(78,0) NOT NULL DEFAULT 0 CHECK (received_base_units >= 0),
    confirmations       integer,
    surplus_base_units  numeric(78,0) CHECK (surplus_base_units > 0),
    -- The grant: its id, when, and what it covered (min(quote, money counted)); a re-org that
    -- takes the live money below `covered_base_units` reverses it.
    grant_id            bigint REFERENCES grants (id),
    granted_at          timestamptz,
    covered_base_units  numeric(78,0) CHECK (covered_base_units >= 0),
    reversed_at         timestamptz,
    -- Why a quote failed: a code (price_stale, unknown_product, not_configured, bitgo_error)
    -- and a message for people.
    failure             text,
    failure_message     text,
    -- crypto.poll's schedule for this purchase (NULL: not watched) and the looks since the
    -- last status change (the backoff's exponent).
    next_check_at       timestamptz,
    checks              integer NOT NULL DEFAULT 0,
    quote_job_id        bigint,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (status IN ('quoting', 'failed') OR (address IS NOT NULL AND amount_base_units IS NOT NULL
                                                AND expires_at IS NOT NULL AND credits IS NOT NULL)),
    CHECK ((grant_id IS NULL) = (granted_at IS NULL))
);
-- A transfer finds its purchase by deposit address (ETH addresses stored in lowercase).
CREATE UNIQUE INDEX crypto_purchases_address_idx ON crypto_purchases (coin, address) WHERE address IS NOT NULL;
CREATE INDEX crypto_purchases_user_idx ON crypto_purchases (user_id, created_at);
CREATE INDEX crypto_purchases_status_idx ON crypto_purchases (status, created_at);
CREATE INDEX crypto_purchases_poll_idx ON crypto_purchases (next_check_at) WHERE next_check_at IS NOT NULL;

-- Every transfer crypto.check has read from BitGo's API, one row per (transfer, address paid),
-- as last seen. A purchase's money is the sum of its live rows.
CREATE TABLE crypto_transfers (
    coin              text NOT NULL CHECK (coin IN ('btc', 'eth')),
    transfer_id       text NOT NULL CHECK (length(transfer_id) BETWEEN 1 AND 256),
    address           text NOT NULL,
    purchase_id       uuid REFERENCES crypto_purchases (id),   -- NULL: no purchase has this address
    wallet_id         text,
    txid              text,
    state             text NOT NULL,                -- BitGo's: unconfirmed, confirmed, removed, ...
    live              boolean NOT NULL,             -- not removed, replaced, failed or rejected
    amount_base_units numeric(78,0) NOT NULL CHECK (amount_base_units > 0),
    confirmations     integer NOT NULL DEFAULT 0 CHECK (confirmations >= 0),
    first_seen_at     timestamptz NOT NULL,         -- BitGo's createdTime: decides on-time or late
    checked_at        timestamptz NOT NULL DEFAULT now(),
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (coin, transfer_id, address)
);
CREATE INDEX crypto_transfers_purchase_idx ON crypto_transfers (purchase_id) WHERE purchase_id IS NOT NULL;

-- The audit of operators' confirmations (tally purchases confirm): who, when, why, and what
-- it changed. Append-only, like the ledger; at most one per purchase (it grants once).
CREATE TABLE crypto_manual_confirmations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purchase_id     uuid NOT NULL UNIQUE REFERENCES crypto_purchases (id),
    actor           text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    note            text CHECK (length(note) <= 2000),
    previous_status text NOT NULL,
    new_status      text NOT NULL,
    credits         bigint NOT NULL CHECK (credits > 0),
    received_base_units numeric(78,0) NOT NULL,
    job_id          bigint,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER crypto_manual_confirmations_append_only BEFORE UPDATE OR DELETE ON crypto_manual_confirmations
    FOR EACH ROW EXECUTE FUNCTION tally_ledger_append_only();

-- The ingress reads what GET /v1/purchases/{id} shows, column by column, and nothing else.
GRANT SELECT (id, user_id, product, coin, status, address, amount_base_units, expires_at, credits)
    ON crypto_purchases TO tally_ingress;
