import Foundation
import Postgres
import TestSupport

/// A believable hour of a wallet for the screenshots: jobs finished over the last hour (a few
/// failing), some waiting and running, a discarded one with its errors, a live worker, a paused
/// queue, accounts with grants and entries, and a purchase held for an operator.
enum ConsoleSampleData {
    static func load(_ db: TestDatabase) throws {
        try db.connect().execute("""
            INSERT INTO jobs (queue, kind, args, state, attempt, created_at, attempted_at, finished_at, locked_by, result)
            SELECT q, k, jsonb_build_object('user_id', 'user-' || (g % 40)), 'completed', 1,
                   now() - (g % 3600) * interval '1 second' - interval '2 seconds', now() - (g % 3600) * interval '1 second' - interval '1 second',
                   now() - (g % 3600) * interval '1 second', 'worker-1/3f9a2c1b', '{"ok": true}'
            FROM generate_series(1, 2400) g,
                 LATERAL (SELECT (ARRAY['default', 'payments', 'notifications'])[1 + g % 3] AS q,
                                 (ARRAY['usage.record', 'stripe.event', 'notify.deliver', 'account.open'])[1 + g % 4] AS k) x
            WHERE random() < 0.5 + 0.4 * sin(g / 300.0);
            INSERT INTO jobs (queue, kind, args, state, attempt, max_attempts, created_at, run_at, attempted_at, finished_at, locked_by, errors)
            SELECT 'notifications', 'notify.deliver', jsonb_build_object('endpoint_id', 2, 'seq', g), 'discarded', 5, 5,
                   now() - (g * 97 % 3600) * interval '1 second' - interval '10 minutes', now() - (g * 97 % 3600) * interval '1 second' - interval '2 seconds',
                   now() - (g * 97 % 3600) * interval '1 second' - interval '2 seconds', now() - (g * 97 % 3600) * interval '1 second', 'worker-2/77c01e9a',
                   jsonb_build_array(jsonb_build_object('at', now() - (g * 97 % 3600) * interval '1 second' - interval '4 minutes', 'attempt', 4, 'message', 'POST https://hooks.example.com/tally: 502 Bad Gateway'),
                                     jsonb_build_object('at', now() - (g * 97 % 3600) * interval '1 second', 'attempt', 5,
                                                        'message', 'POST https://hooks.example.com/tally: timed out after 10 s'))
            FROM generate_series(1, 36) g;
            INSERT INTO jobs (queue, kind, args, state, run_at, created_at)
            SELECT (ARRAY['default', 'payments'])[1 + g % 2], 'usage.record', jsonb_build_object('user_id', 'user-' || g, 'units', 3),
                   'available', now() - (g % 50) * interval '1 second', now() - (g % 50) * interval '1 second'
            FROM generate_series(1, 57) g;
            INSERT INTO jobs (queue, kind, state, attempt, run_at, errors, args)
            SELECT 'payments', 'stripe.event', 'retryable', 2, now() + interval '3 minutes',
                   '[{"at": "2026-12-07T14:58:00Z", "attempt": 2, "message": "Stripe API: 503 Service Unavailable"}]', jsonb_build_object('event_id', 'evt_' || g)
            FROM generate_series(1, 4) g;
            INSERT INTO jobs (queue, kind, state, attempt, attempted_at, locked_by, lease_expires_at, args)
            SELECT 'default', 'usage.record', 'running', 1, now(), 'worker-1/3f9a2c1b', now() + interval '30 seconds', jsonb_build_object('user_id', 'user-' || g)
            FROM generate_series(1, 6) g;
            INSERT INTO workers (id, label, host, pid, queues) VALUES
                ('worker-1/3f9a2c1b', 'worker-1', 'app-1', 4121, '{"default": 8, "payments": 4}'),
                ('worker-2/77c01e9a', 'worker-2', 'app-2', 3980, '{"notifications": 4, "default": 4}');
            INSERT INTO queues (name, paused) VALUES ('notifications', true);
            INSERT INTO accounts (user_id, opened_by) SELECT 'user-' || g, 'signup' FROM generate_series(0, 39) g;
            INSERT INTO crypto_purchases (id, user_id, product, coin, status, credits, usd_cents, price_usd, amount_base_units,
                                          address, wallet_id, quoted_at, expires_at, received_base_units, confirmations, created_at)
            VALUES ('6f1c2b3a-0000-4000-8000-000000000001', 'user-7', 'topup_100', 'btc', 'late', 100, 499, 63968.12, 7801, 'bc1qlate',
                    'w', now() - interval '1 hour', now() - interval '30 minutes', 7801, 4, now() - interval '1 hour');
            """)
    }
}
