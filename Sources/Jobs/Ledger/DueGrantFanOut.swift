import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// Settling grants past their expiry on many accounts at once, shared by `credits.expire` and
/// `credits.rollover`: one job kind in two shapes.
///
/// - The **planner** (`{}` or `{"as_of": T}`, what cron enqueues) reads which accounts have
///   grants of the kind's sources due at T, cuts them in user_id order into ranges of
///   `batchSize` accounts, and enqueues one **batch** job per range
///   (`{"as_of": T, "after": A, "through": B}`, key `<kind>:<T>:<B>`) in the same transaction
///   that completes the planner: all batches exist or none do. When they fit in one batch it
///   settles them itself (result: a batch's).
/// - A **batch** locks the accounts of its range that still have due grants (one `LedgerBook`,
///   one transaction), lets the kind settle each, and completes in that transaction. Batches run
///   in parallel on every worker serving the queue; a batch whose worker dies rolls back and is
///   rescued whole.
///
/// Exactly once per account, whatever crashes or re-runs: a settlement empties the grants it
/// settles, under the account's lock, with a unique ledger reference; a batch that meets an
/// account another run settled first finds nothing due and leaves it alone.
public struct DueGrantFanOut: Sendable {
    public let kind: String
    public let queue: String
    /// The grant sources this kind settles.
    public let sources: [GrantSource]

    public init(kind: String, queue: String, sources: [GrantSource]) {
        self.kind = kind
        self.queue = queue
        self.sources = sources
    }

    public struct Args: Codable, Sendable {
        public let as_of: String?
        /// A batch: the accounts after `after` ("" from the first) through `through`.
        public let after: String?
        public let through: String?
    }

    /// The accounts of one batch, settled in `book` (loaded and locked) as of the date given.
    public typealias Settle = @Sendable (_ book: LedgerBook, _ users: [String], _ asOf: Date, _ tx: Connection) throws -> JSON

    /// Runs a job of this kind: plans, or settles its batch with `settle`.
    public func run(_ args: Args, batchSize: Int, context: JobContext, settle: @escaping Settle) async throws -> JobResult {
        let requested = try Self.parseAsOf(args.as_of)
        let databaseNow = try await context.pool.withConnection { try Self.databaseNow(on: $0) }
        let asOf: Date
        switch Self.settleTime(requested: requested, databaseNow: databaseNow) {
        case .at(let date): asOf = date
        case .wait(let seconds): return .snooze(seconds)
        case .refused(let reason): throw JobError.permanent("\(kind): \(reason)")
        }
        guard let through = args.through else {
            guard args.after == nil else { throw JobError.permanent("a \(kind) batch needs both after and through") }
            return try await plan(asOf: asOf, batchSize: max(1, batchSize), context: context, settle: settle)
        }
        let after = args.after ?? ""
        let sources = self.sources
        return try await context.completeInTransaction { tx in
            try Self.settleRange(sources: sources, asOf: asOf, after: after, through: through, settle: settle, on: tx)
        }
    }

    /// Settles the due accounts in (`after`, `through`] in one book, in `tx`.
    static func settleRange(sources: [GrantSource], asOf: Date, after: String, through: String?, settle: Settle,
                            on tx: Connection) throws -> JSON {
        let users = try through.map { try dueAccounts(sources: sources, asOf: asOf, after: after, through: $0, on: tx) } ?? []
        let book = LedgerBook(tx)
        try book.load(users)
        let result = try settle(book, users, asOf, tx)
        try book.commit()
        return result
    }

    /// `as_of` as a date; nil when not given.
    static func parseAsOf(_ text: String?) throws -> Date? {
        guard let text else { return nil }
        guard let d = Timestamp.parse(text) else { throw JobError.permanent("as_of is not an ISO-8601 time: \(text)") }
        return d
    }

    /// The database's clock: what expiry is measured against everywhere else (the ledger
    /// book's `now`), so a worker whose clock is off settles nothing early.
    static func databaseNow(on c: Connection) throws -> Date {
        guard let now = try c.query(LedgerQueries.databaseNow).first else { throw JobError.permanent("SELECT now() returned no row") }
        return try now.date("now")
    }

    /// When a run settles.
    enum SettleTime: Equatable {
        case at(Date)
        /// Not yet: `as_of` is a little ahead of the database's clock.
        case wait(TimeInterval)
        case refused(String)
    }

    /// How far ahead of the database's clock an `as_of` may be and still be waited for: the
    /// skew between the clock that stamped a cron run (the scheduling worker's) and the
    /// database's. Anything later is refused, never settled early.
    static let clockSkewAllowance: TimeInterval = 60

    /// The time a run settles at (DESIGN.md, "Limits everywhere": `as_of` is never later than
    /// the database's `now()`): `as_of`, else the database's now. An `as_of` in the future
    /// would write off grants that have not expired: refused, unless within the clock skew
    /// allowance, where the job waits until the database's clock reaches it.
    static func settleTime(requested: Date?, databaseNow: Date) -> SettleTime {
        guard let requested else { return .at(databaseNow) }
        let ahead = requested.timeIntervalSince(databaseNow)
        if ahead <= 0 { return .at(requested) }
        if ahead <= clockSkewAllowance { return .wait(ahead) }
        return .refused("as_of \(Timestamp.iso8601(requested)) is later than the database's now() (\(Timestamp.iso8601(databaseNow))): "
            + "settling as of a future time would write off grants that have not expired; give a time in the past, or none for now")
    }

    /// Enqueues the batches for `asOf` and completes the planner, in one transaction. When the
    /// due accounts fit in one batch (most hours), the planner settles them itself: one job,
    /// and its result is a batch's.
    func plan(asOf: Date, batchSize: Int, context: JobContext, settle: @escaping Settle) async throws -> JobResult {
        let (kind, queue, sources, priority) = (self.kind, self.queue, self.sources, context.job.priority)
        let result = try await context.completeInTransaction { tx in
            let rows = try tx.query(LedgerQueries.dueAccountBounds, [asOf, sources.map(\.rawValue), batchSize])
            let bounds = try rows.map { try $0.string("user_id") }
            if bounds.count <= 1 {
                return try Self.settleRange(sources: sources, asOf: asOf, after: "", through: bounds.first, settle: settle, on: tx)
            }
            let accounts = try rows.first?.int64("total") ?? 0
            let stamp = Timestamp.iso8601Micros(asOf)
            var after = ""
            var jobs: [NewJob] = []
            for through in bounds {
                jobs.append(NewJob(kind: kind, args: ["as_of": .string(stamp), "after": .string(after), "through": .string(through)],
                                   queue: queue, priority: priority, uniqueKey: "\(kind):\(stamp):\(through)"))
                after = through
            }
            let inserted = try context.enqueuer.enqueue(jobs, on: tx).filter(\.inserted).count
            return ["as_of": .string(stamp), "accounts": .int(accounts), "batches": .int(jobs.count), "enqueued": .int(inserted)]
        }
        if let n = result.result?["batches"]?.int64, n > 0 {
            Log.info("\(kind) planned", ["accounts": n, "batches": result.result?["batches"]?.int64 ?? 0])
        }
        return result
    }

    /// Accounts with grants of `sources` due at `asOf`, after `after` through `through`, in user order.
    public static func dueAccounts(sources: [GrantSource], asOf: Date, after: String, through: String, on c: Connection) throws -> [String] {
        try c.query(LedgerQueries.dueAccountsInRange, [asOf, sources.map(\.rawValue), after, through]).map { try $0.string("user_id") }
    }

    /// The first `limit` accounts after `after` with grants of `sources` due at `asOf`, in user order.
    public static func dueAccounts(sources: [GrantSource], asOf: Date, after: String, limit: Int, on c: Connection) throws -> [String] {
        try c.query(LedgerQueries.dueAccountsAfter, [asOf, sources.map(\.rawValue), after, limit]).map { try $0.string("user_id") }
    }

    /// The grants of `user` in `book` with something left that are due at `asOf` and of one of
    /// `sources`.
    public static func dueGrants(of user: String, in book: LedgerBook, sources: [GrantSource], asOf: Date) throws -> [GrantRecord] {
        try book.grants(of: user).filter { sources.contains($0.source) && $0.remaining > 0 && $0.isExpired(at: asOf) }
    }
}
