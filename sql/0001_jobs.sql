-- 0001: the job table and the queue's small tables (DESIGN.md, "The job table").
--
-- Index policy: every job is updated at least twice (claim, finish) and those updates are
-- not HOT (the state column is in index predicates), so every full index costs an entry per
-- update. Only the primary key covers all rows; every other index is partial on the states
-- it serves, so millions of finished rows never sit in the claim path.

CREATE TYPE job_state AS ENUM (
    'scheduled',   -- run_at in the future
    'available',   -- ready to be claimed
    'running',     -- claimed by a worker, which holds a lease
    'retryable',   -- failed; runs again at run_at
    'completed',
    'discarded',   -- out of attempts, or failed permanently
    'cancelled'
);

CREATE TABLE jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue            text NOT NULL CHECK (length(queue) BETWEEN 1 AND 128),
    kind             text NOT NULL CHECK (length(kind) BETWEEN 1 AND 128),
    args             jsonb NOT NULL DEFAULT '{}',
    state            job_state NOT NULL DEFAULT 'available',
    priority         smallint NOT NULL DEFAULT 5 CHECK (priority BETWEEN 0 AND 9),
    attempt          integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     integer NOT NULL DEFAULT 20 CHECK (max_attempts > 0),
    run_at           timestamptz NOT NULL DEFAULT now(),
    -- The idempotency key. Unique among all jobs not yet pruned, or, when
    -- unique_while_active, only among unfinished ones (crypto.check: a later webhook for the
    -- same transfer must be checked again).
    unique_key          text CHECK (length(unique_key) <= 512),
    unique_while_active boolean NOT NULL DEFAULT false,
    -- Someone waits on this job (Prefer: wait): finishing it sends NOTIFY tally_job_finished.
    -- Only such jobs notify, because every NOTIFY serialises commits.
    notify_finish    boolean NOT NULL DEFAULT false,
    -- The worker holding (or that last held) the job: its --id label and a per-process nonce.
    locked_by        text,
    lease_expires_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempted_at     timestamptz,
    finished_at      timestamptz,
    -- One record per failed attempt: [{"at": ..., "attempt": n, "message": "..."}].
    errors           jsonb NOT NULL DEFAULT '[]',
    result           jsonb
);

-- The claim: available jobs of one queue by priority, then run_at, then id.
CREATE INDEX jobs_claim_idx ON jobs (queue, priority, run_at, id) WHERE state = 'available';
-- The scheduler: scheduled and retryable jobs that have come due.
CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE state IN ('scheduled', 'retryable');
-- Lease renewal and rescue: running jobs by lease deadline.
CREATE INDEX jobs_running_idx ON jobs (lease_expires_at) WHERE state = 'running';
-- Pruning: finished jobs by age.
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE state IN ('completed', 'cancelled', 'discarded');
-- Idempotency keys: ON CONFLICT with this exact predicate (JobQueries.insert).
CREATE UNIQUE INDEX jobs_unique_key_idx ON jobs (unique_key)
    WHERE unique_key IS NOT NULL
      AND (NOT unique_while_active OR state IN ('scheduled', 'available', 'running', 'retryable'));

-- Paused queues. A queue without a row is running.
CREATE TABLE queues (
    name       text PRIMARY KEY,
    paused     boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The last occurrence of each cron schedule that was enqueued: with the job's unique key it
-- makes each occurrence run once however many workers are up.
CREATE TABLE cron_schedules (
    name             text PRIMARY KEY,
    last_enqueued_at timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Workers alive now (heartbeat every lease renewal), for `tally workers`.
CREATE TABLE workers (
    id           text PRIMARY KEY,          -- label/nonce: the lease holder name
    label        text NOT NULL,
    host         text NOT NULL,
    pid          integer NOT NULL,
    queues       jsonb NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
