-- 0003: the ingress's restricted role (DESIGN.md, "The ingress": least privilege).
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
