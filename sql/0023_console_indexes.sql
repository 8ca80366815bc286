-- 0023: indexes the operator console's pages need with a million finished jobs in the table
-- (ops/bench --only console, console_page_p99_ms ≤ 100 ms).
--
-- Unfinished jobs by queue and state (the overview, `tally jobs stats`, the queues page, the
-- workers' queue depth) need no index of their own: their queries read the hot path's partial
-- indexes one state at a time (AdminQueries.activeCounts). An index on every unfinished job
-- would cost each job two more index writes, at enqueue and at claim.

-- The jobs page filtered to discarded or cancelled jobs, newest first (keyset paging by id):
-- rare states, so without it a page walks back through every completed job. Only jobs that
-- end that way write to it: nothing on the hot path.
CREATE INDEX jobs_failed_idx ON jobs (state, id) WHERE state IN ('discarded', 'cancelled');
