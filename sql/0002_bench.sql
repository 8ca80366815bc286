-- 0002: what the bench.* job kinds write, so tests and benchmarks can count effects.
-- No unique constraint on job_id on purpose: an effect applied twice must be visible.
CREATE TABLE bench_effects (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id     bigint NOT NULL,
    attempt    integer NOT NULL,
    worker     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bench_effects_job_idx ON bench_effects (job_id);
