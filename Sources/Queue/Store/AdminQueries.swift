import Postgres

/// The statements behind the operator commands (`tally jobs …`, `tally queues …`,
/// `tally workers`), kept together like JobQueries and, like them, run through `JobStore`.
/// None of them is on a hot path.
enum AdminQueries {
    static let jobColumns = """
        id, queue, kind, args, state::text AS state, priority, attempt, max_attempts, run_at, unique_key,
        locked_by, lease_expires_at, created_at, attempted_at, finished_at, errors, result
        """

    /// Whether the queue's tables exist (`tally worker` refuses to start on an unmigrated database).
    static let migrated = Query("tally_admin_migrated", """
        SELECT to_regclass('jobs') IS NOT NULL AND to_regclass('workers') IS NOT NULL AS ok
        """)

    /// Newest first, with optional filters; `$6` pages (ids below it).
    static let list = Query("tally_admin_list", """
        SELECT \(jobColumns) FROM jobs
        WHERE ($1::job_state IS NULL OR state = $1::job_state)
          AND ($2::text IS NULL OR kind = $2)
          AND ($3::text IS NULL OR queue = $3)
          AND ($4::timestamptz IS NULL OR created_at >= $4)
          AND ($6::bigint IS NULL OR id < $6)
        ORDER BY id DESC
        LIMIT $5
        """)

    static let show = Query("tally_admin_show", "SELECT \(jobColumns) FROM jobs WHERE id = $1")

    /// Unfinished jobs by queue and state: one branch per partial index of the hot path
    /// (claim, running, due), so the counts read those small indexes and need none of their
    /// own. One `state IN (…)` scan was a scan of the whole table (≈ 70 ms with 1,000,000
    /// finished jobs); an index for it would cost every job two more index writes.
    static let activeCounts = Query("tally_admin_active_counts", """
        SELECT queue, 'available' AS state, count(*) AS n FROM jobs WHERE state = 'available' GROUP BY queue
        UNION ALL
        SELECT queue, 'running', count(*) FROM jobs WHERE state = 'running' GROUP BY queue
        UNION ALL
        SELECT queue, state::text, count(*) FROM jobs WHERE state IN ('scheduled', 'retryable') GROUP BY queue, state
        """)

    /// Jobs finished in the last hour by queue and state, and in the last minute.
    static let recentFinished = Query("tally_admin_recent_finished", """
        SELECT queue, state::text AS state, count(*) AS hour,
               count(*) FILTER (WHERE finished_at > now() - interval '1 minute') AS minute
        FROM jobs
        WHERE state IN ('completed', 'discarded', 'cancelled') AND finished_at > now() - interval '1 hour'
        GROUP BY queue, state
        """)

    /// Failed attempts that will be retried, by when they failed (last minute, last hour).
    static let recentRetries = Query("tally_admin_recent_retries", """
        SELECT queue, count(*) AS hour,
               count(*) FILTER (WHERE (errors -> -1 ->> 'at')::timestamptz > now() - interval '1 minute') AS minute
        FROM jobs
        WHERE state = 'retryable' AND (errors -> -1 ->> 'at')::timestamptz > now() - interval '1 hour'
        GROUP BY queue
        """)

    /// The job table's dead rows and what holds vacuum back (`VacuumHealth`).
    static let vacuumHealth = Query("tally_admin_vacuum_health", """
        SELECT COALESCE((SELECT n_live_tup FROM pg_stat_user_tables WHERE relid = 'jobs'::regclass), 0) AS live,
               COALESCE((SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'jobs'::regclass), 0) AS dead,
               (SELECT EXTRACT(EPOCH FROM now() - min(xact_start))::float8 FROM pg_stat_activity
                 WHERE backend_xmin IS NOT NULL AND datname = current_database() AND pid <> pg_backend_pid()) AS snapshot_s,
               GREATEST((SELECT max(age(backend_xmin)) FROM pg_stat_activity
                          WHERE datname = current_database() AND pid <> pg_backend_pid()),
                        (SELECT max(GREATEST(age(xmin), age(catalog_xmin))) FROM pg_replication_slots),
                        (SELECT max(age(transaction)) FROM pg_prepared_xacts))::bigint AS xmin_age
        """)

    /// The oldest job waiting to run, per queue: how far behind each queue is.
    static let oldestAvailable = Query("tally_admin_oldest_available", """
        SELECT queue, EXTRACT(EPOCH FROM now() - min(run_at))::float8 AS age_s FROM jobs
        WHERE state = 'available' GROUP BY queue
        """)

    /// Makes jobs run again now. Discarded, cancelled, retryable and scheduled jobs qualify;
    /// one out of attempts gets one more. Running and completed jobs are left alone.
    static let retry = Query("tally_admin_retry", """
        WITH target AS (
            SELECT id FROM jobs WHERE id = ANY($1::bigint[])
              AND state IN ('discarded', 'cancelled', 'retryable', 'scheduled', 'available')
            FOR UPDATE
        ), done AS (
            UPDATE jobs j SET state = 'available', run_at = now(), finished_at = NULL, lease_expires_at = NULL,
                              max_attempts = GREATEST(j.max_attempts, j.attempt + 1)
            FROM target WHERE j.id = target.id
            RETURNING j.id, j.queue
        ), notified AS (
            SELECT pg_notify('\(Channels.jobs)', q.queue) FROM (SELECT DISTINCT queue FROM done) q
        )
        SELECT id, (SELECT count(*) FROM notified) AS notified FROM done
        """)

    /// The ids of jobs in a state (and of a kind), for bulk retry.
    static let idsByState = Query("tally_admin_ids_by_state", """
        SELECT id FROM jobs WHERE state = $1::job_state AND ($2::text IS NULL OR kind = $2) ORDER BY id LIMIT $3
        """)

    static let states = Query("tally_admin_states", "SELECT id, state::text AS state FROM jobs WHERE id = ANY($1::bigint[])")

    /// Cancels unfinished jobs; a running one is also told to its worker (NOTIFY control), which
    /// cancels the run. Whatever the run does afterwards cannot apply: the job is no longer `running`.
    static let cancel = Query("tally_admin_cancel", """
        WITH target AS (
            SELECT id, state FROM jobs WHERE id = ANY($1::bigint[])
              AND state IN ('scheduled', 'available', 'running', 'retryable')
            FOR UPDATE
        ), done AS (
            UPDATE jobs j SET state = 'cancelled', finished_at = now(), lease_expires_at = NULL,
                              errors = j.errors || jsonb_build_array(jsonb_build_object(
                                  'at', now(), 'attempt', j.attempt, 'message', 'cancelled by ' || $2))
            FROM target WHERE j.id = target.id
            RETURNING j.id, target.state AS was, j.notify_finish
        ), told AS (
            SELECT pg_notify('\(Channels.control)', 'cancel:' || id::text) FROM done WHERE was = 'running'
        ), waiters AS (
            SELECT pg_notify('\(Channels.jobFinished)', id::text || ':cancelled') FROM done WHERE notify_finish
        )
        SELECT id, was::text AS was, (SELECT count(*) FROM told) + (SELECT count(*) FROM waiters) AS notified FROM done
        """)

    /// Queues known from the queues table and from unfinished jobs, with their counts.
    static let queues = Query("tally_admin_queues", """
        WITH names AS (
            SELECT name FROM queues
            UNION SELECT DISTINCT queue FROM jobs WHERE state = 'available'
            UNION SELECT DISTINCT queue FROM jobs WHERE state = 'running'
            UNION SELECT DISTINCT queue FROM jobs WHERE state IN ('scheduled', 'retryable')
            UNION SELECT unnest($1::text[])
        )
        SELECT n.name,
               COALESCE(q.paused, false) AS paused,
               (SELECT count(*) FROM jobs j WHERE j.queue = n.name AND j.state = 'available') AS available,
               (SELECT count(*) FROM jobs j WHERE j.queue = n.name AND j.state = 'running') AS running,
               (SELECT count(*) FROM jobs j WHERE j.queue = n.name AND j.state IN ('scheduled', 'retryable')) AS waiting
        FROM names n LEFT JOIN queues q ON q.name = n.name
        ORDER BY n.name
        """)

    static let setPaused = Query("tally_admin_set_paused", """
        WITH up AS (
            INSERT INTO queues (name, paused) VALUES ($1, $2::boolean)
            ON CONFLICT (name) DO UPDATE SET paused = EXCLUDED.paused, updated_at = now()
            RETURNING name
        )
        SELECT name, pg_notify('\(Channels.control)', CASE WHEN $2::boolean THEN 'pause:' ELSE 'resume:' END || name) IS NULL AS sent
        FROM up
        """)

    /// Workers that heart-beat within `$1` seconds, with the jobs they run.
    static let workers = Query("tally_admin_workers", """
        SELECT w.id, w.label, w.host, w.pid, w.queues, w.started_at, w.heartbeat_at,
               (SELECT count(*) FROM jobs j WHERE j.state = 'running' AND j.locked_by = w.id) AS running
        FROM workers w
        WHERE w.heartbeat_at > now() - $1::bigint * interval '1 second'
        ORDER BY w.label, w.started_at
        """)

    /// Deletes up to `$3` finished jobs past their retention: completed and cancelled older than
    /// `$1` seconds, discarded older than `$2` seconds. Returns how many.
    static let prune = Query("tally_admin_prune", """
        WITH doomed AS (
            SELECT id FROM jobs
            WHERE (state IN ('completed', 'cancelled') AND finished_at < now() - $1::bigint * interval '1 second')
               OR (state = 'discarded' AND finished_at < now() - $2::bigint * interval '1 second')
            LIMIT $3
            FOR UPDATE SKIP LOCKED
        ), gone AS (
            DELETE FROM jobs j USING doomed WHERE j.id = doomed.id RETURNING j.id
        )
        SELECT count(*) AS n FROM gone
        """)
}
