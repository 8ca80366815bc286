import Foundation
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import XCTest

/// Notifications against a real PostgreSQL and a receiving endpoint on 127.0.0.1: signed
/// delivery, retries with growing gaps, disabling after a day of failures, the inbox,
/// notify.read, and LISTEN tally_events.
final class NotifyDeliveryTests: XCTestCase {
    /// `tally endpoints add URL` as an operator runs it: the endpoint id and its secret (the
    /// last line of stdout, alone).
    func addEndpoint(_ url: String, _ db: TestDatabase) throws -> (id: Int64, secret: String) {
        let run = try TallyRun.run(["endpoints", "add", url], environment: ["DATABASE_URL": db.url])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let secret = try XCTUnwrap(lines.last)
        XCTAssertTrue(secret.hasPrefix("whsec_") && !secret.contains(" "), "the secret alone on its line: \(run.stdout)")
        let id = try db.int("SELECT id FROM notify_endpoints WHERE url = $1 ORDER BY id DESC LIMIT 1", [url])
        return (id, secret)
    }

    /// An account whose balance alerts stay quiet (threshold 0: these tests count every
    /// notification; BalanceAlertTests has the alerts).
    func openAccount(_ user: String, referralCode: String? = nil, on c: Connection) throws {
        try RewardsFixtures.openAccount(user, referralCode: referralCode, on: c)
        try c.query("UPDATE accounts SET low_balance = 0 WHERE user_id = $1", [user])
    }

    func reward(_ user: String, key: String, on c: Connection) throws {
        _ = try c.transaction { try RewardsActionJob.apply(.init(user_id: user, action: "post_like", idempotency_key: key), day: UTCDay(Date()), on: $0) }
    }

    func testEachNotificationReachesTheEndpointWithASignatureItVerifies() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let server = try FakeHTTPServer()
        server.respond("POST", "/hooks/tally", status: 204, body: "")
        let endpoint = try addEndpoint(server.baseURL + "/hooks/tally?app=demo", db)
        let off = try addEndpoint(server.baseURL + "/disabled", db)
        XCTAssertEqual(try TallyRun.run(["endpoints", "disable", String(off.id)], environment: ["DATABASE_URL": db.url]).status, 0)

        try openAccount("u1", on: c)
        try reward("u1", key: "a", on: c)
        try reward("u1", key: "b", on: c)
        guard case .applied = try c.transaction({ try Ledger.debit(Debit(userID: "u1", amount: 1, reference: "usage:u1:x"), on: $0) }) else {
            return XCTFail("debit refused")
        }
        let notifications = try c.query("SELECT id FROM notifications ORDER BY id").map { try $0.int64("id") }
        XCTAssertEqual(notifications.count, 3)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = 'notify.deliver'"), 3, "one job per notification and enabled endpoint")

        let worker = try WorkerHarness(db, queues: ["notify": 4], cron: false)
        try await waitUntil("the endpoint received three notifications") { server.requests("POST", "/hooks/tally").count == 3 }
        try await waitUntil("the deliveries completed") {
            try db.int("SELECT count(*) FROM jobs WHERE kind = 'notify.deliver' AND state = 'completed'") == 3
        }
        await worker.stop()

        var received: [Int64] = []
        for request in server.requests("POST", "/hooks/tally") {
            let signature = try XCTUnwrap(request.headers["tally-signature"])
            XCTAssertTrue(TimestampedSignature.verify(header: signature, secret: endpoint.secret, body: request.body), "signature verifies")
            XCTAssertFalse(TimestampedSignature.verify(header: signature, secret: off.secret, body: request.body), "and only with its secret")
            // The receiver's own check, step by step (docs/rewards-and-notifications.md).
            let parts = Dictionary(uniqueKeysWithValues: signature.split(separator: ",").map { p in
                let kv = p.split(separator: "=", maxSplits: 1)
                return (String(kv[0]), String(kv[1]))
            })
            let t = try XCTUnwrap(parts["t"])
            XCTAssertEqual(parts["v1"], Crypto.hmacSHA256Hex(key: endpoint.secret, message: Array("\(t).".utf8) + request.body))
            XCTAssertLessThan(abs(Date().timeIntervalSince1970 - Double(t)!), 60)

            let body = try JSON.parse(request.body)
            XCTAssertEqual(Set(body.object?.keys ?? [:].keys), ["id", "type", "user_id", "created_at", "payload"])
            let id = try XCTUnwrap(body["id"]?.int64)
            received.append(id)
            XCTAssertEqual(body["user_id"]?.string, "u1")
            XCTAssertEqual(body["type"]?.string, try db.scalar("SELECT type FROM notifications WHERE id = $1", [id]))
            XCTAssertNotNil(body["payload"]?["balance"]?.int64)
            XCTAssertEqual(request.headers["idempotency-key"], "notify:\(id):\(endpoint.id)")
            XCTAssertEqual(request.headers["content-type"], "application/json")
            XCTAssertEqual(request.query, "app=demo")
        }
        XCTAssertEqual(received.sorted(), notifications)
        XCTAssertEqual(server.requests("POST", "/disabled").count, 0)
        XCTAssertEqual(try db.int("SELECT count(*) FROM notify_deliveries WHERE succeeded AND status = 204 AND endpoint_id = $1", [endpoint.id]), 3)
        XCTAssertNotNil(try db.scalar("SELECT last_success_at FROM notify_endpoints WHERE id = $1", [endpoint.id]))
    }

    func testAFailingEndpointIsRetriedWithGrowingGapsAndDisabledAfterFailingForItsDay() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let server = try FakeHTTPServer()
        let failing = LockedBox(true)
        server.handle { _ in failing.value ? FakeHTTPServer.Response(status: 503, body: "down") : FakeHTTPServer.Response(status: 200) }
        let endpoint = try addEndpoint(server.baseURL + "/hook", db)
        try openAccount("u1", on: c)
        try reward("u1", key: "a", on: c)
        let job = try db.int("SELECT id FROM jobs WHERE kind = 'notify.deliver'")

        // Backoff attempt⁴ × 0.02 s: gaps of 0.02, 0.32, 1.62 s. "A day" is 1 s here: the 3rd
        // attempt (~0.4 s after the first failure) does not disable the endpoint, the 4th
        // (~2 s) does.
        let scale = 0.02
        let worker = try WorkerHarness(db, environment: ["TALLY_BACKOFF_SCALE": String(scale), "TALLY_SCHEDULER_INTERVAL": "0.02",
                                                         "TALLY_ENDPOINT_DISABLE_AFTER": "1s"], queues: ["notify": 2], cron: false)
        try await waitUntil("the delivery is discarded", timeout: 30) {
            try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [job]) == "discarded"
        }
        let attempts = try c.query("SELECT attempt, succeeded, status, created_at FROM notify_deliveries ORDER BY id").map {
            (try $0.int("attempt"), try $0.bool("succeeded"), try $0.optInt("status"), try $0.date("created_at"))
        }
        XCTAssertEqual(attempts.map(\.0), [1, 2, 3, 4], "one delivery log row per attempt")
        XCTAssertTrue(attempts.allSatisfy { !$0.1 && $0.2 == 503 })
        XCTAssertEqual(server.requests("POST", "/hook").count, 4)
        let gaps = zip(attempts.dropFirst(), attempts).map { $0.3.timeIntervalSince($1.3) }
        for (k, gap) in gaps.enumerated() {
            XCTAssertGreaterThanOrEqual(gap, pow(Double(k + 1), 4) * scale * 0.9, "gap after attempt \(k + 1): \(gaps)")
        }
        XCTAssertLessThan(gaps[0], gaps[1], "growing gaps: \(gaps)")
        XCTAssertLessThan(gaps[1], gaps[2], "growing gaps: \(gaps)")
        // Every attempt carried the same idempotency key and a fresh, valid signature.
        XCTAssertEqual(Set(server.requests.map { $0.headers["idempotency-key"] ?? "" }).count, 1)
        XCTAssertTrue(server.requests.allSatisfy { TimestampedSignature.verify(header: $0.headers["tally-signature"] ?? "", secret: endpoint.secret, body: $0.body) })
        // Disabled until an operator enables it; new notifications are not sent to it meanwhile.
        XCTAssertEqual(try db.scalar("SELECT enabled::text FROM notify_endpoints WHERE id = $1", [endpoint.id]), "false")
        XCTAssertTrue(try db.scalar("SELECT errors->-1->>'message' FROM jobs WHERE id = $1", [job])?.contains("now disabled") ?? false)
        let list = try TallyRun.run(["endpoints", "list", "--json"], environment: ["DATABASE_URL": db.url])
        XCTAssertEqual(try JSON.parse(list.stdout)["endpoints"]?[0]?["enabled"]?.bool, false)
        XCTAssertTrue(try JSON.parse(list.stdout)["endpoints"]?[0]?["disabled_reason"]?.string?.contains("failed every delivery") ?? false)
        try reward("u1", key: "b", on: c)
        XCTAssertEqual(try db.int("SELECT count(*) FROM jobs WHERE kind = 'notify.deliver'"), 1)

        // The receiver is back; the operator enables it and resends what it missed.
        failing.mutate { $0 = false }
        let env = ["DATABASE_URL": db.url]
        XCTAssertEqual(try TallyRun.run(["endpoints", "enable", String(endpoint.id)], environment: env).status, 0)
        XCTAssertEqual(try TallyRun.run(["jobs", "retry", "--state", "discarded", "--kind", "notify.deliver"], environment: env).status, 0)
        try await waitUntil("the missed notification is delivered") {
            try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [job]) == "completed"
        }
        await worker.stop()
        XCTAssertEqual(try db.scalar("SELECT (failing_since IS NULL)::text FROM notify_endpoints WHERE id = $1", [endpoint.id]), "true")
    }

    /// Outside development (`TALLY_ENDPOINTS_ALLOW_PRIVATE` off, the default; ops/test turns it
    /// on for the fakes on 127.0.0.1): `endpoints add` refuses loopback and private hosts, and a
    /// delivery to one that got into the table anyway is refused before any call.
    func testPrivateEndpointsAreRefusedWhenAddedAndWhenDelivered() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let off = ["DATABASE_URL": db.url, "TALLY_ENDPOINTS_ALLOW_PRIVATE": "off"]
        for url in ["http://127.0.0.1:9/hook", "http://localhost:9/hook", "https://169.254.169.254/latest/meta-data", "http://[::1]:9/",
                    "http://10.1.2.3/hook", "http://192.168.0.10/hook"] {
            let run = try TallyRun.run(["endpoints", "add", url], environment: off)
            XCTAssertEqual(run.status, 1, "\(url): \(run.stdout) \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("only public addresses"), run.stderr)
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM notify_endpoints"), 0, "nothing was added")
        let bad = try TallyRun.run(["endpoints", "add", "http://127.0.0.1:9/hook"], environment: ["DATABASE_URL": db.url, "TALLY_ENDPOINTS_ALLOW_PRIVATE": "maybe"])
        XCTAssertEqual(bad.status, 2, "a bad setting is a usage error: \(bad.stderr)")

        let server = try FakeHTTPServer()
        defer { server.stop() }
        server.respond("POST", "/hook", status: 204, body: "")
        let endpoint = try addEndpoint(server.baseURL + "/hook", db)   // allowed: ops/test's environment
        try openAccount("u1", on: c)
        try reward("u1", key: "a", on: c)
        let job = try db.int("SELECT id FROM jobs WHERE kind = 'notify.deliver'")
        let worker = try WorkerHarness(db, environment: ["TALLY_ENDPOINTS_ALLOW_PRIVATE": "off", "TALLY_BACKOFF_SCALE": "1000"],
                                       queues: ["notify": 2], cron: false)
        try await waitUntil("the first attempt failed") { try db.int("SELECT count(*) FROM notify_deliveries") == 1 }
        await worker.stop()
        XCTAssertEqual(server.requests.count, 0, "no call reached the loopback endpoint")
        let message = try XCTUnwrap(try db.scalar("SELECT error FROM notify_deliveries WHERE endpoint_id = $1", [endpoint.id]))
        XCTAssertTrue(message.contains("a loopback address"), message)
        XCTAssertEqual(try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [job]), "retryable")
    }

    func testAnEndpointURLTheClientCannotUseIsDiscardedAfterOneAttempt() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let endpoint = try addEndpoint("http://127.0.0.1:9/hook", db)
        // `endpoints add` refuses a URL without a host; one changed in the table gets past it.
        try c.query("UPDATE notify_endpoints SET url = 'http:///hook' WHERE id = $1", [endpoint.id])
        try openAccount("u1", on: c)
        try reward("u1", key: "a", on: c)
        let job = try db.int("SELECT id FROM jobs WHERE kind = 'notify.deliver'")

        let worker = try WorkerHarness(db, environment: ["TALLY_BACKOFF_SCALE": "0.001"], queues: ["notify": 2], cron: false)
        let done = try await worker.finished(job)
        await worker.stop()
        XCTAssertEqual(done.state, "discarded", "a URL that cannot work is not retried")
        XCTAssertEqual(try db.int("SELECT attempt FROM jobs WHERE id = $1", [job]), 1, "one attempt")
        XCTAssertEqual(done.errors.array?.count, 1)
        XCTAssertTrue(done.errors[0]?["message"]?.string?.contains("not an http(s) URL") ?? false, "\(done.errors)")
        XCTAssertEqual(try db.scalar("SELECT enabled::text FROM notify_endpoints WHERE id = $1", [endpoint.id]), "true",
                       "a bad URL is the operator's to fix, not a day of failed deliveries")
    }

    func testNotifyPruneDeletesOnlyDeliveryAttemptsPastTheirRetention() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let endpoint = try addEndpoint("http://127.0.0.1:9/hooks", db)
        try openAccount("u1", on: c)
        try reward("u1", key: "a", on: c)
        let notification = try db.int("SELECT max(id) FROM notifications WHERE user_id = 'u1'")
        // 2,500 old attempts (more than one batch of 1,000) and 3 recent ones.
        try c.query("""
            INSERT INTO notify_deliveries (endpoint_id, notification_id, attempt, succeeded, status, duration_ms, created_at)
            SELECT $1, $2, g, false, 503, 1, now() - interval '40 days' + g * interval '1 second' FROM generate_series(1, 2500) g
            """, [endpoint.id, notification])
        try c.query("""
            INSERT INTO notify_deliveries (endpoint_id, notification_id, attempt, succeeded, status, duration_ms, created_at)
            SELECT $1, $2, g, true, 204, 1, now() - interval '1 day' FROM generate_series(1, 3) g
            """, [endpoint.id, notification])
        let before = try db.int("SELECT count(*) FROM notify_deliveries")
        let done = try await RewardsFixtures.runJob(db, kind: "notify.prune", args: [:], queue: "maintenance")
        XCTAssertEqual(done.state, "completed")
        XCTAssertEqual(done.result?["deleted"]?.int64, before - 3, "every attempt older than 30 days, across batches")
        XCTAssertEqual(try db.int("SELECT count(*) FROM notify_deliveries"), 3)
        XCTAssertEqual(try db.int("SELECT count(*) FROM notify_deliveries WHERE created_at < now() - interval '30 days'"), 0)
        XCTAssertEqual(try db.int("SELECT count(*) FROM notifications WHERE id = $1", [notification]), 1, "the inbox is kept")
    }

    func testAListenerOnTallyEventsSeesEveryBalanceChange() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let heard = LockedBox<[JSON]>([])
        let listener = Listener(url: db.url, channels: [Channels.events]) { n in
            if let payload = try? JSON.parse(Array(n.payload.utf8)) { heard.mutate { $0.append(payload) } }
        }
        listener.start()
        defer { listener.stop() }
        try await waitUntil("the listener is connected") { listener.isConnected }

        // Changes of every kind this area makes: rewards, usage, streak milestones, referrals,
        // rollover, expiry.
        let (opened, _) = try await RewardsFixtures.runJob(db, kind: "account.open", args: ["user_id": "amy"])
        XCTAssertEqual(opened, "completed")
        try reward("amy", key: "1", on: c)
        _ = try c.transaction { try Ledger.debit(Debit(userID: "amy", amount: 2, reference: "usage:amy:1"), on: $0) }
        let code = try Referrals.create(userID: "amy", maxUses: 100, on: c).code
        try openAccount("ben", referralCode: code, on: c)
        try RewardsFixtures.pay("ben", credits: 250, source: .subscription, expiresAt: Date().addingTimeInterval(1), on: c)
        try c.transaction { tx in
            for d in 0..<3 {
                try tx.query("INSERT INTO reward_actions (user_id, idempotency_key, action, day, credits) VALUES ('ben', $1, 'x', $2::date, 0)",
                             ["s\(d)", UTCDay("2026-01-01")!.advanced(by: d).iso])
            }
        }
        let worker = try WorkerHarness(db, cron: false)
        try await waitUntil("the referral is rewarded") { try db.int("SELECT count(*) FROM referral_rewards") == 1 }
        let streaks = try worker.enqueue("streaks.evaluate", ["as_of": "2026-01-04T00:05:00Z"], queue: "maintenance")
        let streaksDone = try await worker.finished(streaks)
        XCTAssertEqual(streaksDone.state, "completed")
        try await waitUntil("ben's subscription grant expires") { try LedgerFixtures.balance("ben", on: c) == 12 }
        let rollover = try worker.enqueue("credits.rollover", ["as_of": .string(Timestamp.iso8601(Date()))], queue: "maintenance")
        let rolloverDone = try await worker.finished(rollover)
        XCTAssertEqual(rolloverDone.state, "completed")
        try await waitUntil("the rollover batch is done") {
            try db.int("SELECT count(*) FROM jobs WHERE kind = 'credits.rollover' AND state <> 'completed'") == 0
        }
        await worker.stop()

        let entries = try db.int("SELECT count(*) FROM ledger_entries")
        XCTAssertGreaterThanOrEqual(entries, 8, "trial, reward, usage, 2 referral, payment, streak, settle, rollover")
        try await waitUntil("every notification was heard") { Int64(heard.value.count) == (try db.int("SELECT count(*) FROM notifications")) }
        let ids = Set(heard.value.compactMap { $0["id"]?.int64 })
        let written = Set(try c.query("SELECT id FROM notifications").map { try $0.int64("id") })
        XCTAssertEqual(ids, written)
        // Every ledger entry (every balance change) has its notification, heard with its user and type.
        XCTAssertEqual(try db.int("""
            SELECT count(*) FROM ledger_entries e
            WHERE NOT EXISTS (SELECT 1 FROM notifications n WHERE n.user_id = e.user_id AND (n.payload->>'entry_id')::bigint = e.id)
            """), 0)
        XCTAssertEqual(try db.int("SELECT count(*) FROM notifications WHERE payload ? 'entry_id'"), entries)
        XCTAssertTrue(heard.value.allSatisfy { $0["user_id"]?.string != nil && $0["type"]?.string != nil })
        let types = Set(heard.value.compactMap { $0["type"]?.string })
        XCTAssertTrue(types.isSuperset(of: ["balance_update", "reward_earned", "transaction_complete"]), "\(types)")
        XCTAssertTrue(types.isSubset(of: Set(NotificationType.allCases.map(\.rawValue))), "\(types)")
        XCTAssertTrue(types.contains("balance_low"), "amy's trial of 5 is below the default threshold of 10: \(types)")
    }

    func testInboxListsNewestFirstAndNotifyReadMarksOnlyTheUsersOwn() async throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        for u in ["u1", "u2"] {
            try openAccount(u, on: c)
            try reward(u, key: "a", on: c)
            try reward(u, key: "b", on: c)
        }
        let mine = try c.query("SELECT id FROM notifications WHERE user_id = 'u1' ORDER BY id").map { try $0.int64("id") }
        let theirs = try c.query("SELECT id FROM notifications WHERE user_id = 'u2' ORDER BY id").map { try $0.int64("id") }
        let inbox = try XCTUnwrap(try Inbox.list(userID: "u1", on: c))
        XCTAssertEqual(inbox["notifications"]?.array?.compactMap { $0["id"]?.int64 }, mine.reversed(), "newest first, only the user's")
        let first = try XCTUnwrap(inbox["notifications"]?[0])
        XCTAssertEqual(Set(first.object?.keys ?? [:].keys), ["id", "seq", "type", "payload", "created_at", "read_at"])
        XCTAssertEqual(first["type"]?.string, "reward_earned")
        XCTAssertEqual(first["read_at"], .null)
        XCTAssertNotNil(Timestamp.parse(first["created_at"]?.string ?? ""))
        XCTAssertEqual(try Inbox.list(userID: "u1", limit: 1, before: mine[1], on: c)?["notifications"]?.array?.compactMap { $0["id"]?.int64 },
                       [mine[0]], "the next page")
        XCTAssertEqual(try Inbox.list(userID: "u1", before: mine[0], on: c)?["notifications"]?.array?.count, 0, "past the last page")
        XCTAssertNil(try Inbox.list(userID: "nobody", on: c), "no account: 404")

        // notify.read as the ingress enqueues it, with another user's id mixed in.
        let args: JSON = ["user_id": "u1", "ids": .array([.int(mine[0]), .int(theirs[0]), 999_999])]
        let (state, result) = try await RewardsFixtures.runJob(db, kind: "notify.read", args: args, queue: "notify")
        XCTAssertEqual(state, "completed")
        XCTAssertEqual(result?["marked"]?.int64, 1, "only the user's own")
        XCTAssertEqual(try db.int("SELECT count(*) FROM notifications WHERE read_at IS NOT NULL"), 1)
        let after = try Inbox.list(userID: "u1", on: c)?["notifications"]?.array ?? []
        XCTAssertNotEqual(after.last?["read_at"], .null)
        XCTAssertEqual(after.first?["read_at"], .null)
        // The ingress role may run this query (it reads only notifications).
        try c.execute("SET ROLE tally_ingress")
        XCTAssertEqual(try Inbox.list(userID: "u1", on: c)?["notifications"]?.array?.count, 2)
        try c.execute("RESET ROLE")
    }
}
