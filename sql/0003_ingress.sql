-- 0003: the ingress: its restricted role (DESIGN.md, "The ingress": least privilege) and the Stripe inbox.
--
-- tally_ingress may enqueue jobs and read what the read endpoints show, nothing more: it can
-- never change a balance or a grant. Later migrations GRANT it what their read endpoints need.
-- It is NOLOGIN: an operator makes a login role that inherits it, e.g.
--   CREATE ROLE tally_ingress_app LOGIN PASSWORD '...' IN ROLE tally_ingress;
-- and points TALLY_INGRESS_DATABASE_URL at it.
--
-- Roles belong to the whole cluster while this file runs per database, possibly in several
-- databases at once: creation tolerates a concurrent creator.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tally_ingress') THEN
        CREATE ROLE tally_ingress NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- created meanwhile by a migration of another database
END
$$;

-- Enqueue (INSERT … ON CONFLICT … RETURNING needs SELECT too) and read jobs for
-- GET /v1/jobs/{id} and Prefer: wait. No UPDATE or DELETE: the ingress never runs a job.
GRANT SELECT, INSERT ON jobs TO tally_ingress;
GRANT SELECT ON queues TO tally_ingress;

-- The Stripe inbox: every verified event, keyed by its id, stored by the ingress in the
-- transaction that enqueues its `stripe.event` job (args {"event_id": ...}). A redelivery
-- finds its row and is answered 200 without a second job. The job reads the event from here.
CREATE TABLE stripe_events (
    id           text PRIMARY KEY,              -- evt_...
    type         text NOT NULL,
    api_version  text,
    created      timestamptz NOT NULL,          -- the event's own `created`
    payload      jsonb NOT NULL,                -- the whole event
    received_at  timestamptz NOT NULL DEFAULT now(),
    job_id       bigint,                        -- its stripe.event job
    -- Set when the event waited a day for what it refers to (flagged to operators).
    flagged_at   timestamptz,
    flag_reason  text
);
CREATE INDEX stripe_events_type_idx ON stripe_events (type, created);

GRANT SELECT, INSERT ON stripe_events TO tally_ingress;
