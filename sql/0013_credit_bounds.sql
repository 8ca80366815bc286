-- 0013: no single amount of credits above 10^12 (DESIGN.md, "Limits everywhere"; Ledger.maxCredits).
--
-- Tally refuses larger amounts before they get here (the API, the commands, Stripe metadata,
-- the ledger book), each with a message saying what to do; these CHECKs are the invariant
-- written where nothing can go around it. Ledger entries are not bounded: one write-off may
-- settle many grants at once. NOT VALID then VALIDATE: the check of existing rows takes only
-- a SHARE UPDATE EXCLUSIVE lock, so workers keep writing while it runs.
ALTER TABLE grants ADD CONSTRAINT grants_amount_bound CHECK (amount <= 1000000000000) NOT VALID;
ALTER TABLE payments ADD CONSTRAINT payments_credits_bound CHECK (credits <= 1000000000000) NOT VALID;
ALTER TABLE products ADD CONSTRAINT products_credits_bound CHECK (credits <= 1000000000000) NOT VALID;
ALTER TABLE agents ADD CONSTRAINT agents_price_bound CHECK (credits_per_unit <= 1000000000000) NOT VALID;
ALTER TABLE reward_rules ADD CONSTRAINT reward_rules_credits_bound
    CHECK (credits <= 1000000000000 AND daily_cap <= 1000000000000) NOT VALID;

ALTER TABLE grants VALIDATE CONSTRAINT grants_amount_bound;
ALTER TABLE payments VALIDATE CONSTRAINT payments_credits_bound;
ALTER TABLE products VALIDATE CONSTRAINT products_credits_bound;
ALTER TABLE agents VALIDATE CONSTRAINT agents_price_bound;
ALTER TABLE reward_rules VALIDATE CONSTRAINT reward_rules_credits_bound;
