-- 0010: POST /v1/purchases/crypto refuses a product that does not exist, or a subscription,
-- before it enqueues (issue 10: it answered 202 and the quote failed later). The ingress reads
-- whether a product exists and is monthly, and no other column.
GRANT SELECT (name, monthly) ON products TO tally_ingress;
