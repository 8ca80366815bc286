-- 0023: indexes the operator console's pages need with a million finished jobs in the table
-- (ops/bench --only console, console_page_p99_ms ≤ 100 ms).
--
-- Unfinished jobs by queue and state: the overview's and `tally jobs stats`'s counts, the
-- queues page and the workers' queue-depth metrics read `state IN (scheduled, available,
-- running, retryable)`, which no single existing partial index covers, so each was a scan of
-- the whole table (≈ 70 ms at 1M rows). This one is small: finished jobs leave it.
CREATE INDEX jobs_unfinished_idx ON jobs (queue, state) WHERE state IN ('scheduled', 'available', 'running', 'retryable');

-- The jobs page filtered to discarded or cancelled jobs, newest first (keyset paging by id):
-- rare states, so without it a page walks back through every completed job. Only jobs that
-- end that way write to it: nothing on the hot path.
CREATE INDEX jobs_failed_idx ON jobs (state, id) WHERE state IN ('discarded', 'cancelled');
