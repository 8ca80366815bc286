import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// `crypto.poll {"as_of"?}` (cron, every minute; queue `payments`): the safety net for missed
/// webhooks (BitGo gives up after about 8 hours of retries). Each purchase that can still
/// change has its own next look (`next_check_at`, backing off per purchase: `PollSchedule`);
/// a run takes the due ones (at most `TALLY_CRYPTO_POLL_BATCH`, the most overdue first) and:
///
/// - asks BitGo for the receive transfers to the purchase's address
///   (`GET /api/v2/{coin}/wallet/{walletId}/transfer?address=…`) and enqueues a `crypto.check`
///   for each one, and for each transfer already recorded (key `crypto.check:<coin>:<id>`, the
///   webhook's, so a pending webhook check is not doubled): the checks decide, as for a
///   webhook, so a missed webhook still ends in a grant;
/// - expires an unpaid quote past its expiry, once BitGo has just said no transfer pays it;
/// - moves the purchase's next look on.
///
/// A purchase whose lookup failed is left as it was and looked at again later; the run still
/// completes. Result: `{"looked", "checks_enqueued", "expired", "lookups_failed"}`.
public struct CryptoPollJob: Job {
    public struct Args: Codable, Sendable {
        public let as_of: String?
    }

    public static let kind = "crypto.poll"
    public static let queue = "payments"
    public static let maxAttempts = 3
    public static let timeout: TimeInterval = 600

    let settings: CryptoSettings

    public init(settings: CryptoSettings = .defaults) {
        self.settings = settings
    }

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let due = try await context.pool.withConnection { c in
            try c.query(CryptoQueries.due, [settings.poll.batch]).map(Purchase.init(row:))
        }
        guard !due.isEmpty else { return .completed(["looked": 0, "checks_enqueued": 0, "expired": 0, "lookups_failed": 0]) }
        let bitgo: BitGo
        do { bitgo = try BitGo(context.environment, purpose: "crypto.poll (looking for missed payments)") } catch let error as ConfigurationError {
            throw JobError.permanent(error.description)
        }
        var listed: [String: [String]] = [:]
        var failed: Set<String> = []
        for p in due {
            guard let address = p.address else { continue }
            do {
                let wallet = try p.walletID ?? bitgo.wallet(p.coin, purpose: "crypto.poll")
                listed[p.id] = try await bitgo.receiveTransferIDs(coin: p.coin, wallet: wallet, address: address)
            } catch {
                failed.insert(p.id)
                Log.warn("crypto poll: lookup failed", ["purchase_id": p.id, "error": error])
            }
        }
        let found = listed, lookupsFailed = failed
        let enqueuer = context.enqueuer
        return try await context.completeInTransaction { tx in
            var checks = 0, expired = 0, looked = 0
            for id in due.map(\.id) {
                let p = try Purchase(row: try tx.query(CryptoQueries.lock, [id]).first.orThrow("purchase \(id) vanished"))
                // Another run (or a status change) may have moved it on meanwhile.
                guard let next = p.nextCheckAt, next <= p.readAt else { continue }
                looked += 1
                let recorded = try tx.query(CryptoQueries.transfersOf, [id]).map { try $0.string("transfer_id") }
                let transferIDs = Array(Set(recorded).union(found[id] ?? [])).sorted()
                if !transferIDs.isEmpty {
                    let jobs = transferIDs.map { t in
                        NewJob(kind: CryptoCheckJob.kind, args: ["coin": .string(p.coin.rawValue), "transfer_id": .string(t)],
                               queue: CryptoCheckJob.queue, uniqueKey: "crypto.check:\(p.coin.rawValue):\(t)", uniqueWhileActive: true)
                    }
                    checks += try enqueuer.enqueue(jobs, on: tx).filter(\.inserted).count
                }
                // Decide only on what is recorded, and only when BitGo answered and knows of
                // no transfer the checks have not recorded yet: otherwise leave it to them.
                let unrecorded = Set(found[id] ?? []).subtracting(recorded)
                var decision = PurchaseDecision(status: p.status, action: .none, received: p.received, surplus: p.surplus,
                                                confirmations: p.confirmations, covered: nil)
                if !lookupsFailed.contains(id), unrecorded.isEmpty, let facts = try p.facts(on: tx, threshold: settings.threshold(p.coin)) {
                    let d = PurchaseDecision.evaluate(facts, now: p.readAt)
                    // The poll only expires; grants and the rest come from the checks it enqueued.
                    if d.status == .expired && d.action == .none { decision = d }
                }
                let outcome = try PurchaseTransition.apply(decision, to: p, settings: settings, looked: true, on: tx)
                if outcome.purchase.status == .expired && outcome.previous != .expired {
                    expired += 1
                    Log.info("crypto purchase expired", ["purchase_id": id])
                }
            }
            return ["looked": .int(looked), "checks_enqueued": .int(checks), "expired": .int(expired),
                    "lookups_failed": .int(lookupsFailed.count)]
        }
    }
}
