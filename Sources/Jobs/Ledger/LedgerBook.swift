import Foundation
import Postgres
import Support

/// The one place the ledger changes: a unit of work on some accounts inside the caller's
/// transaction. Every credit movement in Tally (usage, purchases, rewards, rollover, expiry,
/// clawbacks, operators) goes through a book:
///
/// ```swift
/// try tx.transaction { tx in                     // or context.completeInTransaction { tx in … }
///     let book = LedgerBook(tx)
///     try book.load([userID])                      // locks the accounts (user_id order)
///     let change = try book.grant(NewGrant(userID: userID, source: .reward, amount: 2,
///                                          reference: "reward:\(userID):\(key)"))
///     try book.commit()                            // entries, allocations, notifications
/// }
/// ```
///
/// - `load` locks the accounts' rows (in user_id order, so books sharing accounts never
///   deadlock) and reads their grants with something left. Nothing else may change them until
///   the transaction ends, so the book decides in memory and `commit` writes everything in a
///   few statements, however many operations it holds (a batch of 500 usage debits costs the
///   same round trips as one).
/// - Every operation is one ledger entry with a unique reference; an operation whose reference
///   is already in the ledger (or earlier in this book) does nothing and says so.
/// - Every entry writes the user's notification (`Inbox.write`) at commit.
///
/// Not thread-safe: a book lives inside one transaction on one connection's thread.
public final class LedgerBook {
    public let connection: Connection
    /// The database's transaction time once `load` ran: what "past expiry" is measured against.
    public private(set) var now = Date()

    var accounts: [String: AccountState] = [:]
    /// References known to be in the ledger, with their entries' amounts.
    private var applied: [String: Int64] = [:]
    private var checkedReferences: Set<String> = []
    private var pending: [PendingEntry] = []
    private var newGrantIDs: [Int64] = []
    var changedGrantIDs: Set<Int64> = []
    private var spareGrantIDs: [Int64] = []
    private var committed = false

    struct AccountState {
        let userID: String
        var debt: Int64
        var total: Int64
        /// Grants with something left, in consumption order.
        var grants: [GrantRecord]
        var touched = false
        /// The account's own alert threshold (nil: the default) and where the last alert left it.
        var lowBalance: Int64? = nil
        var alertState = BalanceAlert.State.ok
        /// A charge was refused for lack of credits in this book.
        var refused = false
        /// Auto top-up's threshold while it is on (sql/0021), and the balance when loaded: a
        /// book that takes the balance from at or above it to below it enqueues the top-up.
        var topupThreshold: Int64? = nil
        var startBalance: Int64 = 0
    }

    struct PendingEntry {
        let userID: String
        let amount: Int64
        let kind: String
        let reference: String
        let balanceAfter: Int64
        let metadata: JSON
        var allocations: [(grantID: Int64, amount: Int64)]
        let notification: NotificationType
        let payload: [String: JSON]
        /// The grant this entry created, if any.
        let createdGrant: Int64?
        /// The spendable balance right after it (for the notification and the caller).
        let balance: Int64
    }

    public init(_ connection: Connection) {
        self.connection = connection
    }

    // MARK: Loading

    /// Locks and reads these accounts. Users without an account are simply absent
    /// (`hasAccount` says so). Can be called more than once; accounts already loaded stay.
    ///
    /// With `skipLocked`, accounts another transaction holds are not waited for: they are
    /// returned (busy) and stay unloaded. A batch uses it to apply at once what it can and
    /// come back for the rest, so two batches that share a few accounts of thousands do not
    /// queue behind each other.
    @discardableResult
    public func load(_ userIDs: some Sequence<String>, skipLocked: Bool = false) throws -> Set<String> {
        let wanted = Array(Set(userIDs).subtracting(accounts.keys)).sorted()
        guard !wanted.isEmpty else { return [] }
        for row in try connection.query(skipLocked ? LedgerQueries.lockAccountsNoWait : LedgerQueries.lockAccounts, [wanted]) {
            let id = try row.string("user_id")
            accounts[id] = AccountState(userID: id, debt: try row.int64("debt"), total: try row.int64("entries_total"), grants: [],
                                        lowBalance: try row.optInt64("low_balance"),
                                        alertState: BalanceAlert.State(rawValue: try row.string("alert_state")) ?? .ok,
                                        topupThreshold: try row.optInt64("auto_topup_threshold"))
            now = try row.date("now")
        }
        let found = wanted.filter { accounts[$0] != nil }
        var busy: Set<String> = []
        if skipLocked && found.count < wanted.count {
            let missing = wanted.filter { accounts[$0] == nil }
            busy = Set(try connection.query(LedgerQueries.existingAccounts, [missing]).map { try $0.string("user_id") })
        }
        guard !found.isEmpty else { return busy }
        for row in try connection.query(LedgerQueries.liveGrants, [found]) {
            let grant = GrantRecord(
                id: try row.int64("id"), userID: try row.string("user_id"),
                source: try GrantSource(rawValue: row.string("source")).orThrow("unknown grant source in row"),
                amount: try row.int64("amount"), remaining: try row.int64("remaining"),
                expiresAt: try row.optDate("expires_at"), paymentID: try row.optInt64("payment_id"))
            accounts[grant.userID]?.grants.append(grant)
        }
        for id in found {
            accounts[id]!.grants.sort(by: GrantRecord.spendsBefore)
            accounts[id]!.startBalance = try balance(of: id)
        }
        return busy
    }

    /// Looks up many references in one query (a batch of usage debits), so each operation
    /// need not ask on its own.
    public func prefetch(references: [String]) throws {
        let unknown = references.filter { !checkedReferences.contains($0) }
        guard !unknown.isEmpty else { return }
        for row in try connection.query(LedgerQueries.existingReferences, [unknown]) {
            applied[try row.string("reference")] = try row.int64("amount")
        }
        checkedReferences.formUnion(unknown)
    }

    /// Reserves ids for `count` grants this book will create (one query instead of one each).
    public func reserveGrantIDs(_ count: Int) throws {
        guard count > 0 else { return }
        spareGrantIDs += try connection.query(LedgerQueries.reserveGrantIDs, [count]).map { try $0.int64("id") }
    }

    // MARK: Reading

    public func hasAccount(_ userID: String) -> Bool { accounts[userID] != nil }

    /// What the user can spend now: remainders of grants not past expiry, less debt.
    public func balance(of userID: String) throws -> Int64 {
        let account = try state(userID)
        var sum: Int64 = 0
        for g in account.grants where !g.isExpired(at: now) { sum = try Self.add(sum, g.remaining) }
        return try Self.add(sum, -account.debt)
    }

    public func debt(of userID: String) throws -> Int64 { try state(userID).debt }

    /// The grants with something left (including those past expiry not yet written off), in
    /// consumption order.
    public func grants(of userID: String) throws -> [GrantRecord] { try state(userID).grants }

    /// The amount of the ledger entry with this reference, if it is in the ledger (or this book).
    public func appliedAmount(_ reference: String) throws -> Int64? {
        try prefetch(references: [reference])
        return applied[reference]
    }

    /// The allocations of an entry this book has recorded and not yet committed (a hold keeps
    /// the grants its reservation took), as recorded: negative amounts, in the order taken.
    func pendingAllocations(_ reference: String) -> [(grantID: Int64, amount: Int64)]? {
        pending.last { $0.reference == reference }?.allocations
    }

    // MARK: Operations

    /// Adds a grant. Debt is repaid first from it. Nil when the reference was applied before.
    @discardableResult
    public func grant(_ g: NewGrant) throws -> LedgerChange? {
        guard g.amount > 0 else { throw LedgerError.invalid("a grant needs a positive amount, got \(g.amount)") }
        try Ledger.checkCredits(g.amount, "the grant")
        var account = try state(g.userID)
        guard try !isApplied(g.reference) else { return nil }
        if spareGrantIDs.isEmpty { try reserveGrantIDs(1) }
        let id = spareGrantIDs.removeFirst()
        let repaid = min(account.debt, g.amount)
        account.debt -= repaid
        let created = GrantRecord(id: id, userID: g.userID, source: g.source, amount: g.amount, remaining: g.amount - repaid,
                                  expiresAt: g.expiresAt, paymentID: g.paymentID)
        let position = account.grants.firstIndex { GrantRecord.spendsBefore(created, $0) } ?? account.grants.count
        account.grants.insert(created, at: position)
        newGrantIDs.append(id)
        createdGrants[id] = created
        var payload: [String: JSON] = ["source": .string(g.source.rawValue), "grant_id": .int(id)]
        payload["expires_at"] = g.expiresAt.map { .string(Timestamp.iso8601($0)) }
        if repaid > 0 { payload["debt_repaid"] = .int(repaid) }
        return try record(&account, amount: g.amount, kind: g.kind ?? g.source.rawValue, reference: g.reference,
                          metadata: g.metadata, allocations: repaid > 0 ? [(id, -repaid)] : [],
                          notification: g.notification ?? Self.notificationType(for: g.source), payload: payload, grantID: id)
    }

    /// Spends credits in consumption order, never below zero: refused when the balance does
    /// not cover `amount` (which includes any debt).
    public func debit(_ d: Debit) throws -> DebitOutcome {
        guard d.amount >= 0 else { throw LedgerError.invalid("a debit needs an amount of zero or more, got \(d.amount)") }
        try Ledger.checkCredits(d.amount, "the debit")
        guard var account = accounts[d.userID] else { return .accountNotFound }
        if let previous = try appliedAmount(d.reference) {
            return .duplicate(amount: -previous, balance: try balance(of: d.userID))
        }
        let available = try balance(of: d.userID)
        guard available >= d.amount else {
            accounts[d.userID]?.refused = true
            return .insufficient(balance: available, required: d.amount)
        }
        guard d.amount > 0 else {
            // Free: nothing to record.
            return .applied(LedgerChange(userID: d.userID, reference: d.reference, amount: 0, balanceAfter: account.total,
                                         balance: available, debt: account.debt, grantID: nil))
        }
        let (allocations, left) = spend(d.amount, from: &account)
        precondition(left == 0, "balance covered the debit but the grants did not")
        return .applied(try record(&account, amount: -d.amount, kind: d.kind, reference: d.reference, metadata: d.metadata,
                                   allocations: allocations, notification: d.notification ?? .balanceUpdate, payload: [:]))
    }

    /// Takes credits back (a refund, a dispute, a re-org): first from `fromGrant` if it can
    /// still be spent, then from the other spendable grants in consumption order; what they do
    /// not cover becomes debt. The only way a balance goes below zero. Nil when applied before.
    @discardableResult
    public func clawback(_ c: Clawback) throws -> LedgerChange? {
        guard c.amount > 0 else { throw LedgerError.invalid("a clawback needs a positive amount, got \(c.amount)") }
        try Ledger.checkCredits(c.amount, "the clawback")
        var account = try state(c.userID)
        guard try !isApplied(c.reference) else { return nil }
        let (allocations, left) = spend(c.amount, from: &account, first: c.fromGrant)
        account.debt = try Self.add(account.debt, left)
        var payload: [String: JSON] = [:]
        if left > 0 { payload["debt"] = .int(account.debt) }
        return try record(&account, amount: -c.amount, kind: c.kind, reference: c.reference, metadata: c.metadata,
                          allocations: allocations, notification: c.notification ?? .balanceUpdate, payload: payload)
    }

    /// Takes up to `amount` from the account's grants that can still be spent, in consumption
    /// order, from the grant `first` before the others when it is one of them. Returns the
    /// allocations (negative) and what the grants did not cover: nothing for a debit (its
    /// balance was checked first), debt for a clawback.
    private func spend(_ amount: Int64, from account: inout AccountState, first: Int64? = nil) -> (allocations: [(Int64, Int64)], left: Int64) {
        var order = Array(account.grants.indices)
        if let first, let position = order.firstIndex(where: { account.grants[$0].id == first }) {
            order.insert(order.remove(at: position), at: 0)
        }
        var left = amount
        var allocations: [(Int64, Int64)] = []
        for i in order where left > 0 {
            guard !account.grants[i].isExpired(at: now), account.grants[i].remaining > 0 else { continue }
            let take = min(left, account.grants[i].remaining)
            account.grants[i].remaining -= take
            left -= take
            allocations.append((account.grants[i].id, -take))
        }
        return (allocations, left)
    }

    /// Writes off what is left of some grants (expiry, rollover settlement) in one entry. Nil
    /// when the reference was applied before or nothing is left of them.
    @discardableResult
    public func writeOff(_ w: WriteOff) throws -> LedgerChange? {
        var account = try state(w.userID)
        guard try !isApplied(w.reference) else { return nil }
        var allocations: [(Int64, Int64)] = []
        var total: Int64 = 0
        for i in account.grants.indices where w.grantIDs.contains(account.grants[i].id) && account.grants[i].remaining > 0 {
            let take = account.grants[i].remaining
            account.grants[i].remaining = 0
            total = try Self.add(total, take)
            allocations.append((account.grants[i].id, -take))
        }
        guard total > 0 else { return nil }
        return try record(&account, amount: -total, kind: w.kind, reference: w.reference, metadata: w.metadata,
                          allocations: allocations, notification: w.notification ?? .balanceUpdate, payload: [:])
    }

    // MARK: Commit

    /// Writes every entry, allocation, grant change, account total and notification of this
    /// book. Call once, inside the transaction that loaded it; returns the entries written.
    @discardableResult
    public func commit() throws -> [CommittedEntry] {
        precondition(!committed, "a ledger book is committed once")
        committed = true
        let alerts = try alertChanges()
        guard !pending.isEmpty else {
            try Inbox.write(extraNotifications, on: connection)
            try writeAlerts(alerts)
            return []
        }
        let entryIDs = try connection.query(LedgerQueries.reserveEntryIDs, [pending.count]).map { try $0.int64("id") }

        var grantsByID: [Int64: GrantRecord] = [:]
        for account in accounts.values where account.touched {
            for g in account.grants { grantsByID[g.id] = g }
        }
        // Grants that reached zero left the account's list: their final remainder is 0.
        func remaining(_ id: Int64) -> Int64 { grantsByID[id]?.remaining ?? 0 }

        var newGrants: [GrantRecord] = []
        var newGrantEntry: [Int64] = []
        var entryColumns = (ids: [Int64](), users: [String](), amounts: [Int64](), kinds: [String](),
                            refs: [String](), after: [Int64](), meta: [JSON]())
        var allocColumns = (entries: [Int64](), grants: [Int64](), amounts: [Int64]())
        for (i, e) in pending.enumerated() {
            let id = entryIDs[i]
            entryColumns.ids.append(id)
            entryColumns.users.append(e.userID)
            entryColumns.amounts.append(e.amount)
            entryColumns.kinds.append(e.kind)
            entryColumns.refs.append(e.reference)
            entryColumns.after.append(e.balanceAfter)
            entryColumns.meta.append(e.metadata)
            for a in e.allocations {
                allocColumns.entries.append(id)
                allocColumns.grants.append(a.grantID)
                allocColumns.amounts.append(a.amount)
            }
            if let g = e.createdGrant {
                newGrants.append(createdGrants[g]!)
                newGrantEntry.append(id)
            }
        }
        let changed = changedGrantIDs.subtracting(newGrantIDs).sorted()
        let touched = accounts.values.filter(\.touched).sorted { $0.userID < $1.userID }
        try connection.query(LedgerQueries.write, [
            entryColumns.ids, entryColumns.users, entryColumns.amounts, entryColumns.kinds, entryColumns.refs,
            entryColumns.after, entryColumns.meta,
            newGrants.map(\.id), newGrants.map(\.userID), newGrants.map(\.source.rawValue), newGrants.map(\.amount),
            newGrants.map { remaining($0.id) }, newGrants.map(\.expiresAt), newGrants.map(\.paymentID),
            newGrantEntry,
            changed, changed.map(remaining),
            allocColumns.entries, allocColumns.grants, allocColumns.amounts,
            touched.map(\.userID), touched.map(\.total), touched.map(\.debt),
        ])

        var items: [InboxItem] = []
        items.reserveCapacity(pending.count)
        var result: [CommittedEntry] = []
        result.reserveCapacity(pending.count)
        for (i, e) in pending.enumerated() {
            var payload = e.payload
            payload["entry_id"] = .int(entryIDs[i])
            payload["amount"] = .int(e.amount)
            payload["kind"] = .string(e.kind)
            payload["reference"] = .string(e.reference)
            payload["balance"] = .int(e.balance)
            items.append(InboxItem(userID: e.userID, type: e.notification, payload: .object(payload)))
            result.append(CommittedEntry(id: entryIDs[i], userID: e.userID, amount: e.amount, kind: e.kind,
                                         reference: e.reference, balanceAfter: e.balanceAfter, balance: e.balance))
        }
        try Inbox.write(items + extraNotifications, on: connection)
        try writeAlerts(alerts)
        // Auto top-up: the accounts this book took below their threshold, keyed by the entry
        // that crossed (one charge per crossing, however many debits race: they take turns here).
        var lastEntry: [String: Int64] = [:]
        for (i, e) in pending.enumerated() { lastEntry[e.userID] = entryIDs[i] }
        var crossings: [(user: String, entry: Int64)] = []
        for account in accounts.values where account.touched {
            guard let threshold = account.topupThreshold, account.startBalance >= threshold,
                  try balance(of: account.userID) < threshold, let entry = lastEntry[account.userID] else { continue }
            crossings.append((account.userID, entry))
        }
        if !crossings.isEmpty { try AutoTopup.enqueueCharges(crossings.sorted { $0.user < $1.user }, on: connection) }
        // A referred user's first payment rewards the referral (Rewards/Referrals.swift).
        let payments = newGrants.filter(\.source.isPayment)
        try Referrals.paymentsGranted(users: payments.map(\.userID), grants: payments.map(\.id), on: connection)
        return result
    }

    // MARK: Internals

    /// A balance alert an account crossed in this book.
    struct AlertChange {
        let userID: String
        let state: BalanceAlert.State
        let notification: NotificationType?
        let balance: Int64
        let threshold: Int64
    }

    /// The alerts of the accounts this book moved (or refused a charge), once per crossing.
    private func alertChanges() throws -> [AlertChange] {
        var out: [AlertChange] = []
        let fallback = BalanceAlert.defaultThreshold.load(ordering: .relaxed)
        for account in accounts.values.sorted(by: { $0.userID < $1.userID }) where account.touched || account.refused {
            let balance = try self.balance(of: account.userID)
            let threshold = account.lowBalance ?? fallback
            let (state, notification) = BalanceAlert.transition(from: account.alertState, balance: balance, threshold: threshold,
                                                                refused: account.refused)
            if state != account.alertState {
                out.append(AlertChange(userID: account.userID, state: state, notification: notification, balance: balance, threshold: threshold))
            }
        }
        return out
    }

    /// Records the new alert states and writes their notifications (after the entries'), in
    /// this transaction.
    private func writeAlerts(_ alerts: [AlertChange]) throws {
        guard !alerts.isEmpty else { return }
        try connection.query(LedgerQueries.setAlertStates, [alerts.map(\.userID), alerts.map(\.state.rawValue)])
        let items = alerts.compactMap { a in
            a.notification.map { InboxItem(userID: a.userID, type: $0, payload: ["balance": .int(a.balance), "threshold": .int(a.threshold)]) }
        }
        if !items.isEmpty { try Inbox.write(items, on: connection) }
        for a in alerts { accounts[a.userID]?.alertState = a.state }
    }

    /// Notifications besides the entries' (`notify`), written after them at commit.
    private var extraNotifications: [InboxItem] = []

    /// Writes `items` at commit, after the entries' notifications and in the same statement
    /// (a transfer's `transfer_update`s: one statement for a batch's every notification).
    public func notify(_ items: [InboxItem]) {
        precondition(!committed, "notifications are added before the book is committed")
        extraNotifications += items
    }

    /// Grants created by this book, as created (their final remainder is read from the account).
    private var createdGrants: [Int64: GrantRecord] = [:]

    func state(_ userID: String) throws -> AccountState {
        guard let account = accounts[userID] else { throw LedgerError.accountNotFound(userID) }
        return account
    }

    func isApplied(_ reference: String) throws -> Bool {
        try appliedAmount(reference) != nil
    }

    /// Appends the entry, updates the account's running total, stores the account back.
    func record(_ account: inout AccountState, amount: Int64, kind: String, reference: String, metadata: JSON,
                        allocations: [(Int64, Int64)], notification: NotificationType, payload: [String: JSON],
                        grantID: Int64? = nil) throws -> LedgerChange {
        guard Self.validKind(kind) else { throw LedgerError.invalid("entry kind \"\(kind)\" must be lowercase letters, digits, _ or . (at most 64)") }
        guard !reference.isEmpty, reference.utf8.count <= 1024 else { throw LedgerError.invalid("a reference must be 1 to 1024 bytes") }
        account.total = try Self.add(account.total, amount)
        account.touched = true
        for (id, _) in allocations { changedGrantIDs.insert(id) }
        // A grant that reaches zero leaves the list (its final remainder, 0, is written at commit).
        account.grants.removeAll { $0.remaining == 0 }
        accounts[account.userID] = account
        applied[reference] = amount
        checkedReferences.insert(reference)
        let balance = try self.balance(of: account.userID)
        pending.append(PendingEntry(userID: account.userID, amount: amount, kind: kind, reference: reference,
                                    balanceAfter: account.total, metadata: metadata,
                                    allocations: allocations.map { (grantID: $0.0, amount: $0.1) },
                                    notification: notification, payload: payload, createdGrant: grantID, balance: balance))
        return LedgerChange(userID: account.userID, reference: reference, amount: amount, balanceAfter: account.total,
                            balance: balance, debt: account.debt, grantID: grantID)
    }

    /// `a + b`, or a refusal instead of a trap. With every operation at most
    /// `Ledger.maxCredits` an account would need millions of them at the limit to get here;
    /// a trap would kill the worker and its other jobs on every retry, a refusal fails one job.
    static func add(_ a: Int64, _ b: Int64) throws -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw LedgerError.invalid("the account's credits would pass 64 bits (\(a) + \(b)); an operator must look at it") }
        return sum
    }

    static func validKind(_ kind: String) -> Bool {
        let b = Array(kind.utf8)
        guard (1...64).contains(b.count), b[0] >= 97, b[0] <= 122 else { return false }
        return b.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 || $0 == 46 }
    }

    /// Purchases tell the app a transaction completed; rewards that a reward was earned.
    static func notificationType(for source: GrantSource) -> NotificationType {
        switch source {
        case .topup, .subscription, .crypto: .transactionComplete
        case .reward, .streak, .referral: .rewardEarned
        case .trial, .rollover, .adjustment, .transfer: .balanceUpdate
        }
    }
}

extension Optional {
    func orThrow(_ message: @autoclosure () -> String) throws -> Wrapped {
        guard let self else { throw LedgerError.invalid(message()) }
        return self
    }
}
