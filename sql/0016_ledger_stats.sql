-- 0016: credits at a glance (`tally ledger stats`, the console's overview, /metrics).
--
-- "Entries of the last day by kind" reads ledger_entries by time. A BRIN index fits an
-- append-only table whose created_at grows with its physical order: a few pages for millions
-- of rows, and nearly nothing added to each insert (a B-tree would add a leaf write to every
-- entry of every charge).
CREATE INDEX ledger_entries_created_brin ON ledger_entries USING brin (created_at);
