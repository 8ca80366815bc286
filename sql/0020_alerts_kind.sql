-- 0020: PUT /v1/accounts/{user_id}/alerts enqueues account.alerts (sql/0011's allow-list).
INSERT INTO ingress_kinds (kind, queue, fields, key_prefix, key_field, key_exact) VALUES
    ('account.alerts', 'default', '{"user_id": "string", "low_balance": "number?"}', NULL, NULL, false);
