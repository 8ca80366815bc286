import Foundation
import JobRuntime
@testable import Jobs
import Postgres
import Queue
import Support
import TestSupport
import Worker
import XCTest

/// Crypto purchases end to end: a real PostgreSQL, a real worker pool, and fake CoinGecko and
/// BitGo servers on 127.0.0.1 answering in the fixtures' shapes.
final class CryptoPurchaseTests: XCTestCase {
    final class Rig: @unchecked Sendable {
        // @unchecked: used by one test at a time; the worker pool and fakes are Sendable.
        let db: TestDatabase
        let c: Connection
        let bitgo: FakeBitGo
        let coingecko: FakeCoinGecko
        let pool: WorkerPool
        let task: Task<Void, Error>

        init(env extra: [String: String]) throws {
            db = try TestDatabase.create()
            c = try db.connect()
            bitgo = try FakeBitGo()
            coingecko = try FakeCoinGecko()
            var env = bitgo.environment.merging(coingecko.environment) { a, _ in a }
            env["TALLY_BACKOFF_SCALE"] = "0.001"
            env["TALLY_SCHEDULE_PRICES_REFRESH"] = "off"
            env["TALLY_SCHEDULE_CRYPTO_POLL"] = "off"
            for (k, v) in extra { env[k] = v }
            let environment = Environment(env)
            pool = WorkerPool(config: try WorkerConfig(queues: ["payments": 4], label: "crypto-test", environment: environment),
                              registry: try JobRegistry.standard(environment: environment), databaseURL: db.url, environment: environment)
            let pool = self.pool
            task = Task { try await pool.run() }
        }

        func stop() async {
            pool.shutdown()
            _ = try? await task.value
        }

        /// Enqueues a job and waits until it finishes; returns its record.
        @discardableResult
        func run(_ kind: String, _ args: JSON, key: String? = nil, uniqueWhileActive: Bool = false) async throws -> JobRecord {
            let job = try XCTUnwrap(JobRegistry.standard().newJob(kind, args: args, uniqueKey: key, uniqueWhileActive: uniqueWhileActive))
            let id = try Enqueuer().enqueue(job, on: c).id
            return try await finished(id)
        }

        func finished(_ id: Int64) async throws -> JobRecord {
            try await waitUntil("job \(id) finishes") {
                ["completed", "discarded", "cancelled"].contains(try db.scalar("SELECT state::text FROM jobs WHERE id = $1", [id]) ?? "")
            }
            return try XCTUnwrap(JobStore.job(id: id, on: c))
        }

        func refreshPrices() async throws {
            let job = try await run("prices.refresh", [:])
            XCTAssertEqual(job.state, .completed, "\(job.errors)")
        }

        /// A quote for `user`; returns the purchase id and the job's result.
        func quote(_ user: String, product: String = "topup_500", coin: String = "btc") async throws -> (String, JSON) {
            let id = UUID().uuidString.lowercased()
            let job = try await run("crypto.quote", ["purchase_id": .string(id), "user_id": .string(user), "product": .string(product),
                                                     "coin": .string(coin)])
            XCTAssertEqual(job.state, .completed, "\(job.errors)")
            return (id, job.result ?? .null)
        }

        /// What BitGo's webhook makes the ingress enqueue (CONTRACTS.md).
        func webhook(_ transfer: String, coin: String = "btc") async throws -> JobRecord {
            try await run("crypto.check", ["coin": .string(coin), "transfer_id": .string(transfer), "wallet": .string(FakeBitGo.wallets[coin]!)],
                          key: "crypto.check:\(coin):\(transfer)", uniqueWhileActive: true)
        }

        func purchase(_ id: String) throws -> Purchase { try Purchase(row: try XCTUnwrap(c.query(CryptoQueries.get, [id]).first)) }

        func grants(_ id: String) throws -> Int64 { try db.int("SELECT count(*) FROM ledger_entries WHERE reference = $1", ["crypto:" + id]) }

        func balance(_ user: String) throws -> Int64 { try LedgerFixtures.balance(user, on: c) }

        /// The statuses the user was told of, in order.
        func updates(_ user: String) throws -> [String] {
            try c.query("SELECT payload->>'status' AS s FROM notifications WHERE user_id = $1 AND type = 'purchase_update' ORDER BY id",
                        [user]).map { try $0.string("s") }
        }
    }

    var rigs: [Rig] = []

    func rig(_ env: [String: String] = [:]) throws -> Rig {
        let r = try Rig(env: env)
        rigs.append(r)
        return r
    }

    override func tearDown() async throws {
        for r in rigs { await r.stop() }
        rigs = []
    }

    // MARK: The whole path

    func testQuoteThenTwoConfirmationsGrantNothingAndThreeGrantOnce() async throws {
        let r = try rig()
        try LedgerFixtures.account("alice", on: r.c)
        try await r.refreshPrices()
        let (id, quote) = try await r.quote("alice")
        // What a Prefer: wait caller gets: the address, the amount (a decimal string) and the expiry.
        let address = try XCTUnwrap(quote["address"]?.string)
        XCTAssertEqual(quote["purchase_id"]?.string, id)
        XCTAssertEqual(quote["amount_base_units"]?.string, "31250", "$19.99 at $63,968.12: 31,249.94… sat, rounded up")
        XCTAssertEqual(quote["status"]?.string, "awaiting_payment")
        XCTAssertEqual(quote["credits"]?.int64, 500)
        XCTAssertEqual(quote["price_usd"]?.string, "63968.12")
        let expires = try XCTUnwrap(quote["expires_at"]?.string.flatMap(Timestamp.parse))
        XCTAssertEqual(expires.timeIntervalSinceNow, 30 * 60, accuracy: 30, "the quote expires after 30 minutes")
        let post = try XCTUnwrap(r.bitgo.requests("POST", "/api/v2/btc/wallet/\(FakeBitGo.wallets["btc"]!)/address").first)
        XCTAssertEqual(post.headers["idempotency-key"], "crypto.quote:\(id)")
        XCTAssertEqual(post.headers["authorization"], "Bearer \(FakeBitGo.accessToken)")

        // The payment is seen with 2 confirmations: recorded, nothing granted.
        r.bitgo.setTransfer("t-1", to: address, amount: "31250", confirmations: 2)
        let first = try await r.webhook("t-1")
        XCTAssertEqual(first.result?["purchases"]?[0]?["status"]?.string, "confirming")
        XCTAssertEqual(try r.purchase(id).status, .confirming)
        XCTAssertEqual(try r.purchase(id).confirmations, 2)
        XCTAssertEqual(try r.grants(id), 0)
        XCTAssertEqual(try r.balance("alice"), 0)

        // 3 confirmations: granted, once.
        r.bitgo.setTransfer("t-1", to: address, amount: "31250", confirmations: 3)
        let second = try await r.webhook("t-1")
        XCTAssertEqual(second.result?["purchases"]?[0]?["granted"]?.bool, true)
        let p = try r.purchase(id)
        XCTAssertEqual(p.status, .paid)
        XCTAssertEqual(p.received.description, "31250")
        XCTAssertNotNil(p.grantID)
        XCTAssertEqual(try r.grants(id), 1)
        XCTAssertEqual(try r.balance("alice"), 500)
        XCTAssertEqual(try r.db.scalar("SELECT source FROM grants WHERE id = $1", [p.grantID!]), "crypto")

        // More confirmations later change nothing.
        r.bitgo.setTransfer("t-1", to: address, amount: "31250", confirmations: 7)
        let third = try await r.webhook("t-1")
        XCTAssertEqual(third.result?["purchases"]?[0]?["granted"]?.bool, false)
        XCTAssertEqual(try r.grants(id), 1)
        XCTAssertEqual(try r.balance("alice"), 500)
        XCTAssertEqual(try r.updates("alice"), ["awaiting_payment", "confirming", "paid"], "one purchase_update per status change")
        XCTAssertEqual(try r.db.int("SELECT count(*) FROM notifications WHERE user_id = 'alice' AND type = 'transaction_complete'"), 1)

        // GET /v1/purchases/{id}'s document.
        let view = try XCTUnwrap(r.c.query(CryptoQueries.apiView, [id]).first?.json("purchase"))
        XCTAssertEqual(view, [
            "purchase_id": .string(id), "user_id": "alice", "product": "topup_500", "coin": "btc", "status": "paid",
            "address": .string(address), "amount_base_units": "31250", "expires_at": .string(Timestamp.iso8601(p.expiresAt!)), "credits": 500,
        ])
        try LedgerFixtures.assertVerified(r.c)
    }

    func testTheSameWebhookThreeTimesGrantsOnce() async throws {
        let r = try rig()
        try await r.refreshPrices()
        let (id, quote) = try await r.quote("bob")
        r.bitgo.setTransfer("t-2", to: quote["address"]!.string!, amount: "31250", confirmations: 6)
        // Three deliveries at once: one job (the key is unique among unfinished jobs) ...
        let key = "crypto.check:btc:t-2"
        let args: JSON = ["coin": "btc", "transfer_id": "t-2", "wallet": .string(FakeBitGo.wallets["btc"]!)]
        let ids = try (0..<3).map { _ in
            try Enqueuer().enqueue(NewJob(kind: "crypto.check", args: args, queue: "payments", uniqueKey: key, uniqueWhileActive: true), on: r.c).id
        }
        for j in ids { _ = try await r.finished(j) }
        // ... and three more, one after another, each a new job checking again.
        for _ in 0..<3 {
            let again = try await r.webhook("t-2")
            XCTAssertEqual(again.state, .completed)
        }
        XCTAssertEqual(try r.grants(id), 1)
        XCTAssertEqual(try r.balance("bob"), 500, "the payment opened bob's account (no trial) and granted once")
        XCTAssertEqual(try r.db.scalar("SELECT opened_by FROM accounts WHERE user_id = 'bob'"), "payment")
        XCTAssertGreaterThanOrEqual(r.bitgo.requests("GET", "/api/v2/btc/wallet/\(FakeBitGo.wallets["btc"]!)/transfer/t-2").count, 4)
        try LedgerFixtures.assertVerified(r.c)
    }

    func testForgedWebhookWhoseTransferTheAPIReportsUnconfirmedGrantsNothing() async throws {
        let r = try rig()
        try await r.refreshPrices()
        let (id, quote) = try await r.quote("carol")
        // The webhook body would say "confirmed"; the API, which is what counts, says unconfirmed.
        r.bitgo.setTransfer("t-3", to: quote["address"]!.string!, amount: "31250", confirmations: 0, state: "unconfirmed")
        let job = try await r.webhook("t-3")
        XCTAssertEqual(job.result?["state"]?.string, "unconfirmed")
        XCTAssertEqual(try r.purchase(id).status, .confirming)
        XCTAssertEqual(try r.grants(id), 0)
        // A transfer BitGo does not know, and a webhook for someone else's wallet: no effect.
        let unknown = try await r.webhook("t-forged")
        XCTAssertEqual(unknown.result?["outcome"]?.string, "not_found")
        let foreign = try await r.run("crypto.check", ["coin": "btc", "transfer_id": "t-3", "wallet": "someone-elses-wallet"])
        XCTAssertEqual(foreign.result?["outcome"]?.string, "foreign_wallet")
        XCTAssertEqual(try r.grants(id), 0)
        XCTAssertEqual(try r.purchase(id).status, .confirming)
        XCTAssertEqual(try r.db.int("SELECT count(*) FROM crypto_transfers"), 1)
    }

    func testBitGoErrorsAreRetriedWithBackoffThenGrantOnce() async throws {
        let scale = 0.02
        let r = try rig(["TALLY_BACKOFF_SCALE": String(scale)])
        try await r.refreshPrices()
        let (id, quote) = try await r.quote("dave")
        r.bitgo.setTransfer("t-4", to: quote["address"]!.string!, amount: "31250", confirmations: 3)
        let path = "/api/v2/btc/wallet/\(FakeBitGo.wallets["btc"]!)/transfer/t-4"
        r.bitgo.fail("GET", path, times: 2)
        let job = try await r.webhook("t-4")
        XCTAssertEqual(job.state, .completed)
        XCTAssertEqual(job.attempt, 3)
        XCTAssertEqual(job.errors.count, 2)
        for e in job.errors {
            XCTAssertTrue(e.message.hasPrefix("BitGo GET \(path) answered 500"), "the error names service, path and status: \(e.message)")
            XCTAssertFalse(e.message.contains(FakeBitGo.accessToken), "never the credential")
        }
        // Attempt k+1 started attempt⁴ × scale (± 10 %) after attempt k failed: 1 × scale, then 16 × scale.
        let times = job.errors.map { Timestamp.parse($0.at)!.timeIntervalSince1970 } + [job.finishedAt!.timeIntervalSince1970]
        XCTAssertGreaterThanOrEqual(times[1] - times[0], 1 * scale * 0.9, "backoff after attempt 1")
        XCTAssertGreaterThanOrEqual(times[2] - times[1], 16 * scale * 0.9, "backoff after attempt 2")
        XCTAssertEqual(r.bitgo.requests("GET", path).count, 3)
        XCTAssertEqual(try r.purchase(id).status, .paid)
        XCTAssertEqual(try r.grants(id), 1)
    }

    // MARK: Prices

    func testCoinGeckoDownWithAStalePriceRefusesTheQuoteClearly() async throws {
        let r = try rig()
        try LedgerFixtures.account("erin", on: r.c)
        // The last price is 10 minutes old, and CoinGecko is down.
        r.coingecko.set(updated: Date().addingTimeInterval(-600))
        try await r.refreshPrices()
        r.coingecko.setDown(true)
        let before = r.coingecko.calls
        let (id, refused) = try await r.quote("erin")
        XCTAssertEqual(refused["error"]?.string, "price_stale")
        let message = try XCTUnwrap(refused["message"]?.string)
        XCTAssertTrue(message.contains("no btc price newer than 5m") && message.contains("CoinGecko GET /api/v3/simple/price answered 500"), message)
        XCTAssertEqual(r.coingecko.calls, before + 1, "one refresh, then the refusal")
        XCTAssertEqual(try r.purchase(id).status, .failed)
        XCTAssertEqual(try r.purchase(id).failure, "price_stale")
        XCTAssertTrue(r.bitgo.requests("POST", "/api/v2/btc/wallet/\(FakeBitGo.wallets["btc"]!)/address").isEmpty, "no address for a refused quote")
        XCTAssertEqual(try r.updates("erin"), ["failed"])
        XCTAssertEqual(try r.c.query(CryptoQueries.apiView, [id]).first?.json("purchase")["status"], "failed")
        // prices.refresh failing keeps the last price (and retries).
        let failed = try await r.run("prices.refresh", [:])
        XCTAssertEqual(failed.state, .discarded)
        XCTAssertEqual(failed.attempt, PricesRefreshJob.maxAttempts)
        XCTAssertEqual(try r.db.scalar("SELECT usd::text FROM crypto_prices WHERE coin = 'btc'"), "63968.12")

        // CoinGecko back: the stale price gets its one refresh and the quote goes through.
        r.coingecko.setDown(false)
        r.coingecko.set(btc: "70000.5", updated: Date())
        let (_, ok) = try await r.quote("erin")
        XCTAssertEqual(ok["status"]?.string, "awaiting_payment")
        XCTAssertEqual(ok["price_usd"]?.string, "70000.5")
        XCTAssertEqual(try r.db.scalar("SELECT usd::text FROM crypto_prices WHERE coin = 'btc'"), "70000.5", "the refresh was stored")
    }

    func testExactAmountsFromPricesWithManyDecimalsAndALargeWeiAmount() async throws {
        let r = try rig()
        r.coingecko.set(btc: "63968.123456789", eth: "3187.456789012345678")
        try await r.refreshPrices()
        XCTAssertEqual(try r.db.scalar("SELECT usd::text FROM crypto_prices WHERE coin = 'eth'"), "3187.456789012345678", "stored as written")
        let (_, btc) = try await r.quote("frank", product: "topup_500", coin: "btc")
        XCTAssertEqual(btc["amount_base_units"]?.string, "31250")
        try r.c.query("INSERT INTO products (name, credits, usd_cents) VALUES ('whale', 5000000000, 99999999999)")
        let (id, eth) = try await r.quote("frank", product: "whale", coin: "eth")
        // ⌈99,999,999,999 × 10¹⁸ × 10¹⁵ ÷ (100 × 3,187,456,789,012,345,678)⌉, computed with exact integers elsewhere.
        XCTAssertEqual(eth["amount_base_units"]?.string, "313729743235156620537640")
        XCTAssertEqual(try r.db.scalar("SELECT amount_base_units::text FROM crypto_purchases WHERE id = $1::uuid", [id]), "313729743235156620537640")
        // Paying it exactly, in wei far past Int64, is paid (not under- or overpaid).
        let address = try XCTUnwrap(eth["address"]?.string)
        XCTAssertTrue(address.hasPrefix("0xfake"), "ETH addresses are kept in lowercase: \(address)")
        r.bitgo.setTransfer("t-eth", coin: "eth", to: "0xFAKE" + address.dropFirst(6), amount: "313729743235156620537640", confirmations: 64)
        _ = try await r.webhook("t-eth", coin: "eth")
        XCTAssertEqual(try r.purchase(id).status, .paid)
        XCTAssertEqual(try r.balance("frank"), 5_000_000_000)
    }

    // MARK: Held, surplus, expiry, late, manual

    func testUnderpaidIsHeldAndNotifiedUntilATopUpCompletesIt() async throws {
        let r = try rig()
        try LedgerFixtures.account("gina", on: r.c)
        try await r.refreshPrices()
        let (id, quote) = try await r.quote("gina")
        let address = quote["address"]!.string!
        r.bitgo.setTransfer("t-5", to: address, amount: "31000", confirmations: 3)
        _ = try await r.webhook("t-5")
        XCTAssertEqual(try r.purchase(id).status, .underpaid)
        XCTAssertEqual(try r.grants(id), 0, "held: no credits")
        XCTAssertEqual(try r.updates("gina").last, "underpaid", "the user is told")
        let told = try XCTUnwrap(r.c.query("SELECT payload FROM notifications WHERE user_id = 'gina' AND type = 'purchase_update' ORDER BY id DESC LIMIT 1").first?.json("payload"))
        XCTAssertEqual(told["received_base_units"]?.string, "31000")
        XCTAssertEqual(told["amount_base_units"]?.string, "31250")
        // The missing 250 sat arrive in time: paid.
        r.bitgo.setTransfer("t-6", to: address, amount: "250", confirmations: 3)
        _ = try await r.webhook("t-6")
        XCTAssertEqual(try r.purchase(id).status, .paid)
        XCTAssertEqual(try r.grants(id), 1)
        XCTAssertEqual(try r.balance("gina"), 500)
    }

    func testOverpaidIsGrantedWithTheSurplusRecorded() async throws {
        let r = try rig()
        try await r.refreshPrices()
        let (id, quote) = try await r.quote("hank")
        r.bitgo.setTransfer("t-7", to: quote["address"]!.string!, amount: "40000", confirmations: 3)
        _ = try await r.webhook("t-7")
        let p = try r.purchase(id)
        XCTAssertEqual(p.status, .overpaid)
        XCTAssertEqual(p.surplus?.description, "8750")
        XCTAssertEqual(try r.grants(id), 1)
        XCTAssertEqual(try r.balance("hank"), 500)
        XCTAssertEqual(try r.updates("hank"), ["overpaid"], "hank had no account until the payment opened one")
    }

    func testUnpaidQuoteExpiresThenALatePaymentIsHeldUntilAnOperatorConfirmsIt() async throws {
        let r = try rig(["TALLY_CRYPTO_QUOTE_TTL": "2s", "TALLY_SCHEDULE_CRYPTO_POLL": "@every 1s", "TALLY_CRYPTO_POLL_FIRST": "1s"])
        try LedgerFixtures.account("ivy", on: r.c)
        try await r.refreshPrices()
        let (id, quote) = try await r.quote("ivy")
        try await waitUntil("crypto.poll expires the unpaid quote") { try r.purchase(id).status == .expired }
        XCTAssertFalse(r.bitgo.requests("GET", "/api/v2/btc/wallet/\(FakeBitGo.wallets["btc"]!)/transfer").isEmpty,
                       "BitGo was asked for payments before expiring it")
        XCTAssertEqual(try r.updates("ivy"), ["awaiting_payment", "expired"])

        // Paid after the expiry: late, held for an operator, however confirmed.
        r.bitgo.setTransfer("t-8", to: quote["address"]!.string!, amount: "31250", confirmations: 6, createdTime: Date())
        _ = try await r.webhook("t-8")
        XCTAssertEqual(try r.purchase(id).status, .late)
        XCTAssertEqual(try r.grants(id), 0)

        let confirm = try await r.run("crypto.confirm_manual", ["purchase_id": .string(id), "actor": "ops:zoe", "note": "paid 4 min late; customer asked"])
        XCTAssertEqual(confirm.result?["status"]?.string, "paid")
        XCTAssertEqual(confirm.result?["previous_status"]?.string, "late")
        XCTAssertEqual(try r.grants(id), 1)
        XCTAssertEqual(try r.balance("ivy"), 500)
        let audit = try XCTUnwrap(r.c.query("SELECT actor, note, previous_status, new_status, credits, job_id FROM crypto_manual_confirmations WHERE purchase_id = $1::uuid", [id]).first)
        XCTAssertEqual(try audit.string("actor"), "ops:zoe")
        XCTAssertEqual(try audit.string("note"), "paid 4 min late; customer asked")
        XCTAssertEqual(try audit.string("previous_status"), "late")
        XCTAssertEqual(try audit.string("new_status"), "paid")
        XCTAssertEqual(try audit.int64("job_id"), confirm.id)
        XCTAssertEqual(try r.db.scalar("SELECT metadata->>'actor' FROM ledger_entries WHERE reference = $1", ["crypto:" + id]), "ops:zoe")
        // Twice: refused, nothing more granted; the audit cannot be rewritten.
        let again = try await r.run("crypto.confirm_manual", ["purchase_id": .string(id), "actor": "ops:zoe"])
        XCTAssertEqual(again.result?["error"]?.string, "already_granted")
        XCTAssertEqual(try r.grants(id), 1)
        XCTAssertThrowsError(try r.c.query("UPDATE crypto_manual_confirmations SET actor = 'mallory'"))
        XCTAssertEqual(try r.updates("ivy"), ["awaiting_payment", "expired", "late", "paid"])
    }

    func testAMissedWebhookStillEndsInAGrantThroughThePoll() async throws {
        let r = try rig(["TALLY_SCHEDULE_CRYPTO_POLL": "@every 1s", "TALLY_CRYPTO_POLL_FIRST": "1s"])
        try await r.refreshPrices()
        let (id, quote) = try await r.quote("jack")
        // BitGo has the payment, fully confirmed; its webhook never came.
        r.bitgo.setTransfer("t-9", to: quote["address"]!.string!, amount: "31250", confirmations: 3)
        try await waitUntil("the poll finds the payment and a check grants it") { try r.purchase(id).status == .paid }
        XCTAssertEqual(try r.grants(id), 1)
        XCTAssertEqual(try r.db.int("SELECT count(*) FROM jobs WHERE kind = 'crypto.check' AND unique_key = 'crypto.check:btc:t-9'"), 1,
                       "the poll enqueued the webhook's own check, once")
        XCTAssertNil(try r.purchase(id).nextCheckAt, "paid: no longer polled")
    }

    func testAReorgAfterTheGrantReversesTheSaleAndClawsTheCreditsBack() async throws {
        let r = try rig()
        try LedgerFixtures.account("kim", on: r.c)
        try await r.refreshPrices()
        let (id, quote) = try await r.quote("kim")
        let address = quote["address"]!.string!
        r.bitgo.setTransfer("t-10", to: address, amount: "31250", confirmations: 3)
        _ = try await r.webhook("t-10")
        XCTAssertEqual(try r.balance("kim"), 500)
        // Kim spends 200 of it; then BitGo reports the transfer removed (a re-org).
        _ = try r.c.transaction { try Ledger.debit(Debit(userID: "kim", amount: 200, reference: "usage:kim:1"), on: $0) }
        r.bitgo.setTransfer("t-10", to: address, amount: "31250", confirmations: 0, state: "removed")
        let job = try await r.webhook("t-10")
        XCTAssertEqual(job.result?["purchases"]?[0]?["clawed_back"]?.bool, true)
        let p = try r.purchase(id)
        XCTAssertEqual(p.status, .reversed)
        XCTAssertNotNil(p.reversedAt)
        XCTAssertEqual(try r.db.int("SELECT amount FROM ledger_entries WHERE reference = $1", ["clawback:crypto:" + id]), -500)
        XCTAssertEqual(try r.balance("kim"), -200, "what was spent became debt")
        XCTAssertEqual(try LedgerFixtures.debt("kim", on: r.c), 200)
        XCTAssertEqual(try r.updates("kim").last, "reversed")
        // Seen again: nothing more taken.
        _ = try await r.webhook("t-10")
        XCTAssertEqual(try r.db.int("SELECT count(*) FROM ledger_entries WHERE reference LIKE 'clawback:crypto:%'"), 1)
        try LedgerFixtures.assertVerified(r.c)
    }

    // MARK: Configuration and the ingress's view

    func testMissingSettingsFailPermanentlyNamingTheSetting() async throws {
        let r = try rig(["BITGO_WALLET_ETH": ""])
        try await r.refreshPrices()
        let id = UUID().uuidString.lowercased()
        let job = try await r.run("crypto.quote", ["purchase_id": .string(id), "user_id": "lee", "product": "topup_100", "coin": "eth"])
        XCTAssertEqual(job.state, .discarded)
        XCTAssertEqual(job.attempt, 1, "no retry")
        XCTAssertTrue(job.errors.first?.message.contains("BITGO_WALLET_ETH is not set") == true, "\(job.errors)")
        XCTAssertEqual(try r.purchase(id).status, .failed)
        XCTAssertEqual(try r.purchase(id).failure, "not_configured")
        let check = try await r.run("crypto.check", ["coin": "eth", "transfer_id": "t"])
        XCTAssertEqual(check.state, .discarded)
        XCTAssertTrue(check.errors.first?.message.contains("BITGO_WALLET_ETH") == true)
        let bad = try await r.run("crypto.quote", ["purchase_id": "not-a-uuid", "user_id": "lee", "product": "topup_100", "coin": "btc"])
        XCTAssertEqual(bad.errors.first?.message, "purchase id must be a UUID, got \"not-a-uuid\"")
        let monthly = try await r.quote("lee", product: "monthly")
        XCTAssertEqual(monthly.1["error"]?.string, "unknown_product")
    }

    func testTheIngressRoleReadsThePurchaseViewAndNothingElse() async throws {
        let r = try rig()
        try await r.refreshPrices()
        let (id, quote) = try await r.quote("max")
        try r.c.execute("SET ROLE tally_ingress")
        let view = try XCTUnwrap(r.c.query(CryptoQueries.apiView, [id]).first?.json("purchase"))
        XCTAssertEqual(view["address"], quote["address"])
        XCTAssertEqual(view.object?.keys.sorted(), ["address", "amount_base_units", "coin", "credits", "expires_at", "product",
                                                    "purchase_id", "status", "user_id"])
        XCTAssertTrue(try r.c.query(CryptoQueries.apiView, [UUID().uuidString]).isEmpty, "an unknown id: no row (404)")
        for forbidden in ["SELECT grant_id FROM crypto_purchases", "SELECT * FROM crypto_transfers", "SELECT * FROM crypto_prices",
                          "SELECT * FROM crypto_manual_confirmations", "UPDATE crypto_purchases SET status = 'paid'"] {
            XCTAssertThrowsError(try r.c.query(Query(adHoc: forbidden)), forbidden)
        }
        try r.c.execute("RESET ROLE")
    }
}
