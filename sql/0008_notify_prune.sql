-- 0008: notify.prune deletes delivery attempts by age. A BRIN index on created_at (rows are
-- appended in time order, so a few pages of summary cover millions of rows) keeps each hourly
-- run from walking the whole table when little is old enough.
CREATE INDEX notify_deliveries_created_brin ON notify_deliveries USING brin (created_at);
