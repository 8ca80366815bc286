import Postgres

/// Every statement the queue runs, named and kept together. Named queries are prepared once
/// per connection. Parameters are typed by casts; arrays feed `unnest` for batches. Internal to
/// the queue: the rest of the system runs them through `JobStore` (inserts through `Enqueuer`).
///
/// Guard rule: every statement that finishes, renews or gives back a running job matches
/// `state = 'running' AND locked_by = <this process>`, so a job rescued from a worker that
/// stalled is never overwritten when that worker finishes late.
enum JobQueries {
    /// The active states, as in the unique index's predicate.
    static let activeStates = "('scheduled', 'available', 'running', 'retryable')"

    /// Batch insert with idempotency keys. One round trip for any batch size: `unnest` of
    /// parallel arrays measured ~12x faster than a multi-row VALUES built per batch size, and
    /// keeps one prepared plan. `$10` says whether to NOTIFY (debounced by the caller).
    /// Rows whose key already exists are not returned (see `existingByKeys`).
    static let insert = Query("tally_job_insert", """
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::smallint[], $5::integer[],
                                 $6::timestamptz[], $7::text[], $8::boolean[], $9::boolean[])
                AS t(queue, kind, args, priority, max_attempts, run_at, unique_key, unique_while_active, notify_finish)
        ), ins AS (
            INSERT INTO jobs (queue, kind, args, state, priority, max_attempts, run_at,
                              unique_key, unique_while_active, notify_finish)
            SELECT queue, kind, args,
                   CASE WHEN run_at > now() THEN 'scheduled'::job_state ELSE 'available'::job_state END,
                   priority, max_attempts, COALESCE(run_at, now()), unique_key, unique_while_active, notify_finish
            FROM input
            ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL
                AND (NOT unique_while_active OR state IN \(activeStates))
            DO NOTHING
            RETURNING id, unique_key, queue, state
        ), notified AS (
            SELECT pg_notify('\(Channels.jobs)', q.queue)
            FROM (SELECT DISTINCT queue FROM ins WHERE state = 'available') q
            WHERE $10::boolean
        )
        SELECT id, unique_key, (SELECT count(*) FROM notified) AS notified FROM ins ORDER BY id
        """)

    /// One job, the common case of an app enqueueing as it goes: the same as `insert` without
    /// `unnest` (measured ~12 % faster per single-job transaction: 0.36 → 0.32 ms on this machine).
    static let insertOne = Query("tally_job_insert_one", """
        WITH ins AS (
            INSERT INTO jobs (queue, kind, args, state, priority, max_attempts, run_at,
                              unique_key, unique_while_active, notify_finish)
            VALUES ($1, $2, $3::jsonb,
                    CASE WHEN $6::timestamptz > now() THEN 'scheduled'::job_state ELSE 'available'::job_state END,
                    $4::smallint, $5::integer, COALESCE($6::timestamptz, now()), $7, $8::boolean, $9::boolean)
            ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL
                AND (NOT unique_while_active OR state IN \(activeStates))
            DO NOTHING
            RETURNING id, unique_key, queue, state
        ), notified AS (
            SELECT pg_notify('\(Channels.jobs)', queue) FROM ins WHERE state = 'available' AND $10::boolean
        )
        SELECT id, unique_key, (SELECT count(*) FROM notified) AS notified FROM ins
        """)

    /// One job with no idempotency key and no NOTIFY (the debouncer sent one already): a bare
    /// INSERT. Without the CTE and the speculative insertion of `ON CONFLICT` a single-job
    /// commit measured ~12 % faster in pgbench on this machine (4,300 vs 3,800 per s, one
    /// connection, fsync on), and most single inserts of a steady stream take this path.
    static let insertPlain = Query("tally_job_insert_plain", """
        INSERT INTO jobs (queue, kind, args, state, priority, max_attempts, run_at, notify_finish)
        VALUES ($1, $2, $3::jsonb,
                CASE WHEN $6::timestamptz > now() THEN 'scheduled'::job_state ELSE 'available'::job_state END,
                $4::smallint, $5::integer, COALESCE($6::timestamptz, now()), $7::boolean)
        RETURNING id
        """)

    /// Before a COPY of `$1` jobs (`Enqueuer.copyInsert`): the transaction's `now()` as
    /// microseconds since 2000-01-01 UTC (timestamptz's binary form; `EXTRACT` gives an exact
    /// numeric since PostgreSQL 14), and `$1` ids taken from the identity's sequence, in the
    /// order `nextval` gave them (increasing; contiguous unless another session took ids at the
    /// same moment). The sequence is looked up once, not per id.
    static let reserveForCopy = Query("tally_job_copy_reserve", """
        WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence('jobs', 'id')::regclass AS seq)
        SELECT ((EXTRACT(EPOCH FROM now()) - \(CopyBinaryWriter.postgresEpochUnixSeconds)) * 1000000)::bigint AS now_us,
               ARRAY(SELECT nextval(s.seq) FROM s, generate_series(1, $1::integer)) AS ids
        """)

    /// The COPY of a batch with reserved ids (binary rows from `Enqueuer.copyInsert`). COPY
    /// writes the `GENERATED ALWAYS` identity column as given (only INSERT needs `OVERRIDING
    /// SYSTEM VALUE`); `EnqueueTests.testCopyBatch…` checks that this stays so. Every other
    /// column takes its default, as with `insert`.
    static let copyColumns = 9
    static let copy = """
        COPY jobs (id, queue, kind, args, state, priority, max_attempts, run_at, notify_finish)
        FROM STDIN (FORMAT binary)
        """

    /// The NOTIFY of `insert`, for a COPY: one per queue (`$1`) that got an available job.
    static let notifyQueues = Query("tally_job_notify_queues", """
        SELECT count(pg_notify('\(Channels.jobs)', q)) AS notified FROM unnest($1::text[]) AS q
        """)

    /// `insert` for the restricted ingress role: the same parameters and answer, through the
    /// function that checks every job first (sql/0011; it has no INSERT on jobs).
    static let insertThroughIngressFunction = Query("tally_job_insert_ingress", """
        SELECT id, unique_key, notified FROM tally_ingress_enqueue($1::text[], $2::text[], $3::jsonb[], $4::smallint[],
            $5::integer[], $6::timestamptz[], $7::text[], $8::boolean[], $9::boolean[], $10::boolean)
        """)

    /// The jobs holding some idempotency keys (after an insert skipped them).
    static let existingByKeys = Query("tally_job_existing_by_keys", """
        SELECT id, unique_key, kind, args FROM jobs
        WHERE unique_key = ANY($1::text[])
          AND (NOT unique_while_active OR state IN \(activeStates))
        """)

    /// Claims up to `$2` available jobs of queue `$1` for worker `$3` with a lease of `$4` ms.
    /// One statement per batch: `FOR UPDATE SKIP LOCKED` on the partial claim index, so workers
    /// never wait on each other; a paused queue yields nothing.
    static let claim = Query("tally_job_claim", """
        WITH locked AS (
            SELECT id FROM jobs
            WHERE state = 'available' AND queue = $1
              AND NOT EXISTS (SELECT 1 FROM queues WHERE name = $1 AND paused)
            ORDER BY priority, run_at, id
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        )
        UPDATE jobs j SET state = 'running', attempt = j.attempt + 1, attempted_at = now(),
                          locked_by = $3, lease_expires_at = now() + $4::bigint * interval '1 millisecond'
        FROM locked WHERE j.id = locked.id
        RETURNING j.id, j.queue, j.kind, j.args, j.attempt, j.max_attempts, j.priority, j.created_at
        """)

    /// Finishes a batch of running jobs held by `$7`, each in the attempt that ran (`$6`):
    /// completed, retryable (with its delay), discarded, snoozed (`scheduled`, the attempt
    /// given back) or cancelled. Returns the jobs it changed; a job missing from the answer was
    /// no longer ours (rescued, cancelled, or claimed again since).
    static let finish = Query("tally_job_finish", """
        WITH r AS (
            SELECT * FROM unnest($1::bigint[], $2::job_state[], $3::jsonb[], $4::bigint[], $5::text[], $6::integer[])
                AS r(id, state, result, delay_ms, message, attempt)
        ), done AS (
            UPDATE jobs j SET
                state = r.state,
                result = r.result,
                finished_at = CASE WHEN r.state IN ('completed', 'discarded', 'cancelled') THEN now() END,
                run_at = CASE WHEN r.state IN ('retryable', 'scheduled')
                              THEN now() + r.delay_ms * interval '1 millisecond' ELSE j.run_at END,
                attempt = CASE WHEN r.state = 'scheduled' THEN j.attempt - 1 ELSE j.attempt END,
                lease_expires_at = NULL,
                errors = CASE WHEN r.message IS NULL THEN j.errors
                              ELSE j.errors || jsonb_build_array(jsonb_build_object(
                                  'at', now(), 'attempt', j.attempt, 'message', r.message)) END
            FROM r
            WHERE j.id = r.id AND j.state = 'running' AND j.locked_by = $7 AND j.attempt = r.attempt
            RETURNING j.id, j.state, j.notify_finish
        ), notified AS (
            SELECT pg_notify('\(Channels.jobFinished)', id::text || ':' || state::text)
            FROM done WHERE notify_finish AND state IN ('completed', 'discarded', 'cancelled')
        )
        SELECT id, (SELECT count(*) FROM notified) AS notified FROM done
        """)

    /// Extends the leases of the jobs this worker is still running, each in the attempt it
    /// runs (`$4`, beside the ids of `$1`); returns those still ours.
    /// Rows are locked in id order, as `lockHeld` and a sorted `FinishBatch` lock them, so a
    /// renewal and a batch's transaction never wait on each other in a cycle.
    static let renewLeases = Query("tally_job_renew_leases", """
        WITH mine AS (
            SELECT j.id FROM jobs j JOIN unnest($1::bigint[], $4::integer[]) AS h(id, attempt)
                ON j.id = h.id AND j.attempt = h.attempt
            WHERE j.state = 'running' AND j.locked_by = $2
            ORDER BY j.id
            FOR UPDATE OF j
        )
        UPDATE jobs j SET lease_expires_at = now() + $3::bigint * interval '1 millisecond'
        FROM mine WHERE j.id = mine.id
        RETURNING j.id
        """)

    /// Locks the jobs of a batch this worker still holds, each in the attempt that runs.
    static let lockHeld = Query("tally_job_lock_held", """
        SELECT j.id FROM jobs j JOIN unnest($1::bigint[], $3::integer[]) AS h(id, attempt)
            ON j.id = h.id AND j.attempt = h.attempt
        WHERE j.state = 'running' AND j.locked_by = $2
        ORDER BY j.id
        FOR UPDATE OF j
        """)

    /// Running jobs whose lease lapsed (their worker died, was killed or cut off) go back to
    /// `retryable`, due now, with an error record; out of attempts, `discarded`.
    static let rescue = Query("tally_job_rescue", """
        WITH stale AS (
            SELECT id FROM jobs
            WHERE state = 'running' AND lease_expires_at < now()
            ORDER BY lease_expires_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE jobs j SET
            state = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded'::job_state ELSE 'retryable'::job_state END,
            finished_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END,
            run_at = now(),
            lease_expires_at = NULL,
            errors = j.errors || jsonb_build_array(jsonb_build_object(
                'at', now(), 'attempt', j.attempt,
                'message', 'lease expired: worker ' || COALESCE(j.locked_by, '?') || ' stopped renewing it (crashed, killed or cut off)'))
        FROM stale WHERE j.id = stale.id
        RETURNING j.id, j.kind, j.queue, j.state, j.locked_by
        """)

    /// Scheduled and retryable jobs that are due become available; their queues are notified.
    static let promoteDue = Query("tally_job_promote_due", """
        WITH due AS (
            SELECT id FROM jobs
            WHERE state IN ('scheduled', 'retryable') AND run_at <= now()
            ORDER BY run_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        ), promoted AS (
            UPDATE jobs j SET state = 'available' FROM due WHERE j.id = due.id RETURNING j.queue
        ), notified AS (
            SELECT pg_notify('\(Channels.jobs)', q.queue) FROM (SELECT DISTINCT queue FROM promoted) q
        )
        SELECT queue, count(*) AS n, (SELECT count(*) FROM notified) AS notified FROM promoted GROUP BY queue
        """)

    /// When the next scheduled or retryable job comes due (NULL: none).
    static let nextDue = Query("tally_job_next_due", """
        SELECT min(run_at) AS next FROM jobs WHERE state IN ('scheduled', 'retryable')
        """)

    /// At shutdown, the jobs still running here go back to `available` without using an attempt.
    static let giveBack = Query("tally_job_give_back", """
        WITH back AS (
            UPDATE jobs SET state = 'available', attempt = GREATEST(attempt - 1, 0), lease_expires_at = NULL
            WHERE state = 'running' AND locked_by = $1
            RETURNING id, queue
        ), notified AS (
            SELECT pg_notify('\(Channels.jobs)', q.queue) FROM (SELECT DISTINCT queue FROM back) q
        )
        SELECT id, (SELECT count(*) FROM notified) AS notified FROM back
        """)

    /// Records a cron occurrence unless it (or a later one) was recorded already; returns a row
    /// only to the one caller that should enqueue it.
    static let recordCronOccurrence = Query("tally_cron_record", """
        INSERT INTO cron_schedules (name, last_enqueued_at) VALUES ($1, $2::timestamptz)
        ON CONFLICT (name) DO UPDATE SET last_enqueued_at = EXCLUDED.last_enqueued_at, updated_at = now()
            WHERE cron_schedules.last_enqueued_at < EXCLUDED.last_enqueued_at
        RETURNING name
        """)

    static let notify = Query("tally_notify", "SELECT pg_notify($1, $2)")

    // MARK: Workers

    static let registerWorker = Query("tally_worker_register", """
        INSERT INTO workers (id, label, host, pid, queues) VALUES ($1, $2, $3, $4, $5::jsonb)
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()
        """)

    static let heartbeat = Query("tally_worker_heartbeat", """
        UPDATE workers SET heartbeat_at = now() WHERE id = $1
        """)

    /// Adds what a worker counted since its last heartbeat (`$1` names, `$2` labels, `$3`
    /// amounts, in (name, label) order: concurrent flushes lock the rows in one order).
    static let addCounters = Query("tally_worker_add_counters", """
        INSERT INTO worker_counters AS w (name, label, value)
        SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
        ON CONFLICT (name, label) DO UPDATE SET value = w.value + excluded.value, updated_at = now()
        """)

    /// Every worker counter, for `/metrics`.
    static let counters = Query("tally_worker_counters", """
        SELECT name, label, value FROM worker_counters ORDER BY name, label
        """)

    static let deregisterWorker = Query("tally_worker_deregister", "DELETE FROM workers WHERE id = $1")

    /// Forgets workers that stopped heart-beating long ago (killed without deregistering).
    static let forgetDeadWorkers = Query("tally_worker_forget_dead", """
        DELETE FROM workers WHERE heartbeat_at < now() - interval '1 hour'
        """)
}
