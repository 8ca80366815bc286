-- 0019: balance alerts (DESIGN.md, "Balance alerts and auto top-up").
--
-- `low_balance`: the account's own threshold (NULL: TALLY_LOW_BALANCE, 10). `alert_state` is
-- where the balance stood at the last alert, so each crossing notifies once, never each entry:
-- ok → low writes balance_low; → depleted (0 or less, or a charge refused for lack of credits)
-- writes balance_depleted; low or depleted → ok (back at or above the threshold) writes
-- balance_recovered. Changed only while the account is locked (by the book that moved it).
ALTER TABLE accounts ADD COLUMN low_balance bigint CHECK (low_balance >= 0 AND low_balance <= 1000000000000);
ALTER TABLE accounts ADD COLUMN alert_state text NOT NULL DEFAULT 'ok' CHECK (alert_state IN ('ok', 'low', 'depleted'));
