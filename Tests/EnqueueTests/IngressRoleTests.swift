import Foundation
import Postgres
import Support
import TestSupport
import XCTest

/// The restricted ingress role can enqueue, not mint (DESIGN.md, "The security model";
/// sql/0011). Connected as a login role that only inherits `tally_ingress`, as an attacker
/// holding the ingress's credential would be: every write it must not make is refused by
/// PostgreSQL itself (SQLSTATE 42501), every kind the ingress enqueues goes through the
/// function, and the ledger is unchanged.
final class IngressRoleTests: XCTestCase {
    var db: TestDatabase!
    var role = ""
    var asRole: Connection!

    override func setUpWithError() throws {
        db = try TestDatabase.create()
        role = "tally_ingress_t" + Crypto.randomHex(4)
        try db.connect().execute("CREATE ROLE \(role) LOGIN IN ROLE tally_ingress")
        asRole = try Connection.connect("postgresql://\(role)@/\(db.name)")
    }

    override func tearDownWithError() throws {
        asRole = nil
        db.drop()
        _ = try? Connection.connect(TestDatabase.url(for: "postgres")).execute("DROP ROLE IF EXISTS \(role)")
    }

    /// One job through `tally_ingress_enqueue`, as the ingress's enqueuer calls it.
    @discardableResult
    func enqueue(_ kind: String, queue: String, args: String, key: String? = nil, runAt: String? = nil,
                 maxAttempts: Int = 20) throws -> Rows {
        try asRole.query("""
            SELECT * FROM tally_ingress_enqueue(ARRAY[$1]::text[], ARRAY[$2]::text[], ARRAY[$3::jsonb], ARRAY[5]::smallint[],
                ARRAY[$4::integer], ARRAY[$5::timestamptz], ARRAY[$6]::text[], ARRAY[false], ARRAY[false], true)
            """, [queue, kind, args, maxAttempts, runAt, key])
    }

    func assertRefused(_ what: String, _ mentions: String? = nil, file: StaticString = #filePath, line: UInt = #line,
                       _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), what, file: file, line: line) { error in
            let postgres = error as? PostgresError
            XCTAssertEqual(postgres?.sqlState, "42501", "\(what): \(error)", file: file, line: line)
            if let mentions {
                XCTAssertTrue(postgres?.message.contains(mentions) ?? false, "\(what): \(error)", file: file, line: line)
            }
        }
    }

    func testEveryKindTheIngressSendsGoesThroughTheFunction() throws {
        let kinds: [(String, String, String, String?)] = [
            ("account.open", "default", #"{"user_id":"u1"}"#, "account:u1"),
            ("account.open", "default", #"{"user_id":"u2","referral_code":"R1"}"#, "account:u2"),
            ("usage.record", "default", #"{"user_id":"u1","agent":"default","units":3,"idempotency_key":"k"}"#, "usage:u1:k"),
            ("rewards.action", "default", #"{"user_id":"u1","action":"post_like","idempotency_key":"k"}"#, "activity:u1:k"),
            ("notify.read", "notify", #"{"user_id":"u1","ids":[1,2]}"#, nil),
            ("stripe.event", "payments", #"{"event_id":"evt_1"}"#, "stripe:evt_1"),
            ("crypto.check", "payments", #"{"coin":"btc","transfer_id":"t1","wallet":null}"#, "crypto.check:btc:t1"),
            ("crypto.quote", "payments", #"{"purchase_id":"p1","user_id":"u1","product":"topup_100","coin":"btc"}"#, "crypto.quote:u1:q"),
            ("hold.create", "default", #"{"hold_id":"hold_0123456789abcdef01234567","user_id":"u1","credits":5}"#, "hold:u1:k"),
            ("hold.create", "default", #"{"hold_id":"hold_0123456789abcdef01234568","user_id":"u1","agent":"gpu","units":2,"expires_in":60}"#, "hold:u1:k2"),
            ("hold.capture", "default", #"{"hold_id":"hold_0123456789abcdef01234567","credits":3,"idempotency_key":"c"}"#,
             "hold.capture:hold_0123456789abcdef01234567:c"),
            ("hold.void", "default", #"{"hold_id":"hold_0123456789abcdef01234567"}"#, "hold.void:hold_0123456789abcdef01234567"),
            ("transfer.create", "default", #"{"transfer_id":"transfer_0123456789abcdef01234567","from_user_id":"u1","to_user_id":"u2","credits":5,"escrow":true,"expires_in":60,"memo":"m"}"#,
             "transfer:u1:k"),
            ("transfer.release", "default", #"{"transfer_id":"transfer_0123456789abcdef01234567"}"#, "transfer.release:transfer_0123456789abcdef01234567"),
            ("transfer.refund", "default", #"{"transfer_id":"transfer_0123456789abcdef01234567"}"#, "transfer.refund:transfer_0123456789abcdef01234567"),
        ]
        for (kind, queue, args, key) in kinds {
            let rows = try enqueue(kind, queue: queue, args: args, key: key)
            XCTAssertEqual(rows.count, 1, kind)
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE state = 'available'"), Int64(kinds.count))
        XCTAssertEqual(try enqueue("account.open", queue: "default", args: #"{"user_id":"u1"}"#, key: "account:u1").count, 0,
                       "a key that exists is skipped, as the queue's own insert does")
        // The inbox row for the stripe.event job just enqueued.
        let job = try db.int("SELECT id FROM jobs WHERE kind = 'stripe.event'")
        try asRole.query("SELECT tally_ingress_stripe_events(ARRAY['evt_1'], ARRAY['charge.refunded'], ARRAY[NULL::text], ARRAY[1756300000::bigint], ARRAY[$1::jsonb], ARRAY[$2::bigint])",
                         [#"{"id":"evt_1","type":"charge.refunded"}"#, job])
        XCTAssertEqual(try db.int("SELECT count(*) FROM stripe_events WHERE id = 'evt_1' AND job_id = $1", [job]), 1)
    }

    func testEveryWriteTheIngressMustNotMakeIsRefusedByPostgreSQL() throws {
        let owner = try db.connect()
        try owner.execute("INSERT INTO accounts (user_id, opened_by) VALUES ('u1', 'operator')")
        let before = try db.scalar("SELECT (SELECT count(*) FROM ledger_entries) || '/' || (SELECT count(*) FROM grants) || '/' || (SELECT count(*) FROM jobs)")

        // Plain SQL: no INSERT on jobs or the inbox at all, nor anything that writes the ledger.
        for sql in [
            "INSERT INTO jobs (queue, kind, args) VALUES ('default', 'admin.adjust', '{\"user_id\":\"u1\",\"amount\":1000000}')",
            "INSERT INTO jobs (queue, kind, args, state, unique_key) VALUES ('payments', 'stripe.event', '{\"event_id\":\"evt_x\"}', 'completed', 'stripe:evt_x')",
            "INSERT INTO stripe_events (id, type, created, payload) VALUES ('evt_x', 'checkout.session.completed', now(), '{\"metadata\":{\"credits\":\"1000000\"}}')",
            "UPDATE jobs SET state = 'completed'",
            "INSERT INTO ledger_entries (user_id, amount, kind) VALUES ('u1', 1000, 'grant')",
            "INSERT INTO grants (user_id, source, amount, remaining) VALUES ('u1', 'admin', 1000, 1000)",
            "UPDATE accounts SET debt = 0",
            "INSERT INTO ingress_kinds (kind, queue, fields) VALUES ('admin.adjust', 'default', '{}')",
            "SELECT tally_ingress_refusal('default', 'x', '{}', NULL, 1, NULL)",
        ] {
            assertRefused(sql) { try asRole.execute(sql) }
        }

        // Through the function: only the allowed kinds, on their queues, with their args' shape,
        // never scheduled, with keys that match the args.
        assertRefused("admin.adjust", "may not be enqueued by the ingress") {
            try enqueue("admin.adjust", queue: "default", args: #"{"user_id":"u1","amount":1000000,"reason":"x"}"#)
        }
        for cron in ["credits.expire", "credits.rollover", "streaks.evaluate", "notify.prune", "prices.refresh", "crypto.poll", "notify.deliver"] {
            assertRefused(cron, "may not be enqueued") { try enqueue(cron, queue: "maintenance", args: "{}") }
        }
        assertRefused("another queue", "its queue is default") {
            try enqueue("usage.record", queue: "payments", args: #"{"user_id":"u1","agent":"a","units":1,"idempotency_key":"k"}"#, key: "usage:u1:k")
        }
        assertRefused("an extra field", "args.credits is not a field") {
            try enqueue("usage.record", queue: "default", args: #"{"user_id":"u1","agent":"a","units":1,"idempotency_key":"k","credits":5}"#, key: "usage:u1:k")
        }
        assertRefused("a field of the wrong type", "args.units must be number") {
            try enqueue("usage.record", queue: "default", args: #"{"user_id":"u1","agent":"a","units":"1","idempotency_key":"k"}"#, key: "usage:u1:k")
        }
        assertRefused("a missing field", "args.agent must be string") {
            try enqueue("usage.record", queue: "default", args: #"{"user_id":"u1","units":1,"idempotency_key":"k"}"#, key: "usage:u1:k")
        }
        assertRefused("args that are not an object", "a JSON object") { try enqueue("notify.read", queue: "notify", args: "[1]") }
        assertRefused("a scheduled job", "does not schedule") {
            try enqueue("account.open", queue: "default", args: #"{"user_id":"u9"}"#, key: "account:u9", runAt: "2030-01-01T00:00:00Z")
        }
        assertRefused("a huge attempt limit", "max_attempts") {
            try enqueue("account.open", queue: "default", args: #"{"user_id":"u9"}"#, key: "account:u9", maxAttempts: 1_000_000)
        }
        // Keys that would block someone else's job: a cron run's, another user's, another event's.
        assertRefused("a cron key", "does not match") {
            try enqueue("usage.record", queue: "default", args: #"{"user_id":"u1","agent":"a","units":1,"idempotency_key":"k"}"#,
                        key: "cron:credits.expire:2026-12-07")
        }
        assertRefused("another user's key", "does not match") {
            try enqueue("usage.record", queue: "default", args: #"{"user_id":"u1","agent":"a","units":1,"idempotency_key":"k"}"#, key: "usage:u2:k")
        }
        assertRefused("another event's key", "does not match") {
            try enqueue("stripe.event", queue: "payments", args: #"{"event_id":"evt_a"}"#, key: "stripe:evt_b")
        }
        assertRefused("a key on a kind without one", "takes no idempotency key") {
            try enqueue("notify.read", queue: "notify", args: #"{"user_id":"u1","ids":[1]}"#, key: "notify:x")
        }
        // A batch with one bad job enqueues none of it.
        assertRefused("a mixed batch", "job 2 of the batch (admin.adjust)") {
            try asRole.query("""
                SELECT * FROM tally_ingress_enqueue(ARRAY['default','default'], ARRAY['account.open','admin.adjust'],
                    ARRAY['{"user_id":"u5"}'::jsonb, '{"user_id":"u1","amount":5}'::jsonb], ARRAY[5,5]::smallint[], ARRAY[20,20],
                    ARRAY[NULL,NULL]::timestamptz[], ARRAY['account:u5',NULL], ARRAY[false,false], ARRAY[false,false], false)
                """)
        }
        // Inbox rows only with their own stripe.event job.
        let usage = try enqueue("usage.record", queue: "default", args: #"{"user_id":"u1","agent":"a","units":1,"idempotency_key":"z"}"#,
                                key: "usage:u1:z").first!.int64("id")
        assertRefused("an inbox row with a job of another kind", "no stripe.event job") {
            try asRole.query("SELECT tally_ingress_stripe_events(ARRAY['evt_x'], ARRAY['checkout.session.completed'], ARRAY[NULL::text], ARRAY[1756300000::bigint], ARRAY[$1::jsonb], ARRAY[$2::bigint])",
                             [#"{"id":"evt_x","type":"checkout.session.completed","data":{"object":{"metadata":{"credits":"1000000"}}}}"#, usage])
        }
        let stripe = try enqueue("stripe.event", queue: "payments", args: #"{"event_id":"evt_y"}"#, key: "stripe:evt_y").first!.int64("id")
        assertRefused("an inbox row for another event's job", "no stripe.event job") {
            try asRole.query("SELECT tally_ingress_stripe_events(ARRAY['evt_x'], ARRAY['charge.refunded'], ARRAY[NULL::text], ARRAY[1756300000::bigint], ARRAY[$1::jsonb], ARRAY[$2::bigint])",
                             [#"{"id":"evt_x","type":"charge.refunded"}"#, stripe])
        }
        assertRefused("a payload of another event", "the payload's id") {
            try asRole.query("SELECT tally_ingress_stripe_events(ARRAY['evt_y'], ARRAY['charge.refunded'], ARRAY[NULL::text], ARRAY[1756300000::bigint], ARRAY[$1::jsonb], ARRAY[$2::bigint])",
                             [#"{"id":"evt_other","type":"charge.refunded"}"#, stripe])
        }

        XCTAssertEqual(try db.int("SELECT count(*) FROM stripe_events"), 0)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind NOT IN ('usage.record', 'stripe.event')"), 0)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE state <> 'available'"), 0, "no job state was written")
        let after = try db.scalar("SELECT (SELECT count(*) FROM ledger_entries) || '/' || (SELECT count(*) FROM grants) || '/' || (SELECT count(*) - 2 FROM jobs)")
        XCTAssertEqual(after, before, "the ledger is unchanged (and only the two allowed jobs were added)")
    }
}
