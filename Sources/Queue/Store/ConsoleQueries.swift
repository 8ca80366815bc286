import Postgres

/// The statements only the operator console runs (through `JobStore+Console`), beside
/// AdminQueries. Each reads through an index the job table has (jobs_finished_idx, the primary key).
enum ConsoleQueries {
    /// Jobs finished in the last hour by minute and final state (jobs_finished_idx).
    static let throughput = Query("tally_console_throughput", """
        SELECT date_trunc('minute', finished_at) AS minute,
               count(*) FILTER (WHERE state = 'completed') AS completed,
               count(*) FILTER (WHERE state = 'discarded') AS discarded,
               count(*) FILTER (WHERE state = 'cancelled') AS cancelled
        FROM jobs
        WHERE state IN ('completed', 'discarded', 'cancelled') AND finished_at > now() - interval '1 hour'
        GROUP BY 1 ORDER BY 1
        """)

    /// The ids a filter of the jobs page shows (what its bulk retry and cancel act on), newest
    /// first, at most `$5`.
    static let filteredIDs = Query("tally_console_filtered_ids", """
        SELECT id FROM jobs
        WHERE ($1::job_state IS NULL OR state = $1::job_state)
          AND ($2::text IS NULL OR kind = $2)
          AND ($3::text IS NULL OR queue = $3)
          AND ($4::timestamptz IS NULL OR created_at >= $4)
        ORDER BY id DESC
        LIMIT $5
        """)
}
