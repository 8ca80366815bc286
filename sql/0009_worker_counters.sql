-- 0009: counters the workers keep for /metrics (the ingress serves it; workers have no HTTP
-- port). Each worker adds what it counted since its last heartbeat, in the heartbeat's
-- statement, so a counter costs nothing per job. Totals over every worker that ever ran,
-- like Prometheus counters across restarts of the whole fleet (rate() handles the rest).
--
-- transaction_retries{reason}: a job's transaction hit a deadlock (40P01) or a serialization
-- failure (40001) and was run again at once without using an attempt (issue 10: not the job's
-- fault). With one lock order (docs/ledger.md) it should stay 0; a rise names a bug.
CREATE TABLE worker_counters (
    name       text NOT NULL,
    label      text NOT NULL DEFAULT '',
    value      bigint NOT NULL DEFAULT 0 CHECK (value >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, label)
);

GRANT SELECT ON worker_counters TO tally_ingress;
