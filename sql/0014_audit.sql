-- 0014: the audit log (DESIGN.md, "The security model": "Auditing"; docs/operations.md).
--
-- Every operator action writes one row, in the transaction of the action itself where the
-- action is a write of its own (a grant, a pause, a key): who (`--actor`, else $TALLY_ACTOR,
-- else the OS user; the console's operator), what, on what, when, why. `tally audit list`
-- reads it. Append-only, like the ledger: an audit that can be edited proves nothing. The
-- ingress role is granted nothing here.
CREATE TABLE audit_log (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL CHECK (length(actor) BETWEEN 1 AND 256),
    action  text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.-]{0,63}$'),   -- credits.grant, jobs.retry, …
    target  text CHECK (length(target) <= 1024),                       -- a user, job ids, a queue, a key
    reason  text CHECK (length(reason) <= 1024),
    details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, at);

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION tally_ledger_append_only();
