-- 0005: the ingress's own tables: API keys (DESIGN.md, "The ingress").
--
-- A key is shown once by `tally apikey create` and stored only as its SHA-256 (hex): keys are
-- 32 random bytes, so a fast hash is as strong as a slow one and can be looked up by index.
-- Rate limits live in the ingress's memory (a token bucket per key), not here.
CREATE TABLE api_keys (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    key_hash    text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    key_prefix  text NOT NULL,                 -- the first characters, to tell keys apart in listings
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- The ingress reads keys to authenticate requests; only `tally apikey` (the owner role) writes them.
GRANT SELECT ON api_keys TO tally_ingress;
