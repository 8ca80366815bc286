import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// `usage.record {"user_id", "agent", "units", "idempotency_key"}`: debits `units × price(agent)`
/// in consumption order, never below zero. Always `completed` (CONTRACTS.md): the result is
/// `{"charged": N, "balance": N}` or a refusal `{"error": "insufficient_credits", "balance",
/// "required"}` / `{"error": "account_not_found"}` / `{"error": "unknown_agent"}` /
/// `{"error": "invalid_units", "units", "credits_per_unit", "max_units"}` (units × price is
/// more than `Ledger.maxCredits`, 10^12). The ledger
/// reference is `usage:<user_id>:<idempotency_key>`: a replay charges nothing and answers what
/// the first charge was.
///
/// A `BatchJob`: jobs claimed together are applied in one transaction (see `BatchJob` and
/// `BatchExecutor` for why and the figures); `run` is the same code with one job.
public struct UsageRecordJob: BatchJob {
    public struct Args: Codable, Sendable {
        public let user_id: String
        public let agent: String
        public let units: Int64
        public let idempotency_key: String

        public init(user_id: String, agent: String, units: Int64, idempotency_key: String) {
            self.user_id = user_id
            self.agent = agent
            self.units = units
            self.idempotency_key = idempotency_key
        }
    }

    public static let kind = "usage.record"
    public static let batchLimit = 1000

    public init() {}

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let item = BatchItem(job: context.job, args: args)
        return try await context.completeInTransaction { tx in
            switch try Self.record([item], on: tx, mayDefer: false)[0] {
            case .completed(let result): return result
            case .failed(let message, _): throw JobError.permanent(message)
            case .deferred, .runAlone: throw JobError.permanent("usage.record deferred a job it was told not to defer")
            }
        }
    }

    public func runBatch(_ jobs: [BatchItem<Args>], on tx: Connection, context: BatchContext) throws -> [BatchOutcome] {
        try Self.record(jobs, on: tx, mayDefer: context.mayDefer)
    }

    /// Applies the usage of `items` in their order, in one ledger book (one lock per account,
    /// a few statements in all), inside `tx`. With `mayDefer`, jobs of accounts another
    /// transaction holds are `.deferred` rather than waited for.
    static func record(_ items: [BatchItem<Args>], on tx: Connection, mayDefer: Bool) throws -> [BatchOutcome] {
        var outcomes = [BatchOutcome?](repeating: nil, count: items.count)
        for (i, item) in items.enumerated() {
            if let problem = problem(item.args) { outcomes[i] = .failed(problem, permanent: true) }
        }
        let valid = items.indices.filter { outcomes[$0] == nil }
        guard !valid.isEmpty else { return outcomes.map { $0! } }

        var prices: [String: Int64] = [:]
        let agents = Array(Set(valid.map { items[$0].args.agent }))
        for row in try tx.query(LedgerQueries.agentPrices, [agents]) {
            prices[try row.string("name")] = try row.int64("credits_per_unit")
        }
        let book = LedgerBook(tx)
        // References first, before the account locks, so the lookup is not part of the time a
        // hot account is held. Two jobs with one reference are rare (their job keys are the
        // same); if one commits between this read and our write, the unique index refuses our
        // entry, the batch rolls back and its jobs run one by one, checking under the lock.
        try book.prefetch(references: valid.map { reference(items[$0].args) })
        let busy = try book.load(valid.map { items[$0].args.user_id }, skipLocked: mayDefer)

        for i in valid {
            let a = items[i].args
            if busy.contains(a.user_id) {
                outcomes[i] = .deferred
                continue
            }
            guard book.hasAccount(a.user_id) else {
                outcomes[i] = .completed(LedgerRefusal.accountNotFound.result())
                continue
            }
            guard let price = prices[a.agent] else {
                outcomes[i] = .completed(LedgerRefusal.unknownAgent.result())
                continue
            }
            let (cost, overflow) = a.units.multipliedReportingOverflow(by: price)
            guard !overflow, cost <= Ledger.maxCredits else {
                // A refusal, not a failed job: the args are well formed, only too large for
                // this agent's price, and a caller waiting on the job needs to be told why.
                outcomes[i] = .completed(LedgerRefusal.invalidUnits.result(["units": .int(a.units), "credits_per_unit": .int(price),
                                                                                 "max_units": .int(Ledger.maxCredits / price)]))
                continue
            }
            let debit = Debit(userID: a.user_id, amount: cost, reference: reference(a), kind: "usage",
                              metadata: ["agent": .string(a.agent), "units": .int(a.units), "job_id": .int(items[i].job.id)])
            switch try book.debit(debit) {
            case .applied(let change):
                outcomes[i] = .completed(["charged": .int(cost), "balance": .int(change.balance)])
            case .duplicate(let charged, let balance):
                outcomes[i] = .completed(["charged": .int(charged), "balance": .int(balance)])
            case .insufficient(let balance, let required):
                outcomes[i] = .completed(LedgerRefusal.insufficientCredits.result(["balance": .int(balance), "required": .int(required)]))
            case .accountNotFound:
                outcomes[i] = .completed(LedgerRefusal.accountNotFound.result())
            }
        }
        try book.commit()
        return outcomes.map { $0! }
    }

    static func reference(_ a: Args) -> String { "usage:\(a.user_id):\(a.idempotency_key)" }

    /// What makes args unusable (the ingress checks the same; a job enqueued another way may not).
    static func problem(_ a: Args) -> String? {
        if a.user_id.isEmpty || a.user_id.utf8.count > 256 { return "user_id must be 1 to 256 bytes" }
        if a.agent.isEmpty || a.agent.utf8.count > 128 { return "agent must be 1 to 128 bytes" }
        if a.units <= 0 { return "units must be a positive integer, got \(a.units)" }
        if a.idempotency_key.isEmpty || a.idempotency_key.utf8.count > 255 { return "idempotency_key must be 1 to 255 bytes" }
        return nil
    }
}
