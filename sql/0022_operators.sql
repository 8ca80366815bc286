-- 0022: the operator console's sign-in (DESIGN.md, "The operator console"; docs in README).
--
-- An operator is a name and a token from `tally operators create NAME`, shown once and stored
-- as its SHA-256 (like the API keys: the token is 32 random bytes, so a fast hash is as strong
-- as a slow one, and it can be looked up by an index). Revoking keeps the row (the audit log
-- names operators) and ends their sessions; a name can be created again once revoked.
CREATE TABLE operators (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
    token_hash    text NOT NULL UNIQUE,
    token_prefix  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at  timestamptz,
    revoked_at    timestamptz
);
CREATE UNIQUE INDEX operators_name_live_idx ON operators (name) WHERE revoked_at IS NULL;

-- A signed-in browser: the cookie's value is stored hashed (a copy of this table grants no
-- session), with the session's CSRF token, which every form of that session carries.
CREATE TABLE operator_sessions (
    id_hash      text PRIMARY KEY,
    operator_id  bigint NOT NULL REFERENCES operators (id),
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX operator_sessions_operator_idx ON operator_sessions (operator_id);
CREATE INDEX operator_sessions_expires_idx ON operator_sessions (expires_at);
