import Foundation
import Postgres
import Support

/// `tally ledger verify`: checks the invariants of DESIGN.md, "The ledger", over the whole
/// ledger (docs/ledger.md lists them). One set-based query per `Check` (`LedgerQueries`,
/// "Verification"), all in one REPEATABLE READ READ ONLY transaction: every check sees the same
/// moment. Sequential scans (0.45 s for 100,000 entries, see `LedgerQueries`): run it off-peak on
/// a large ledger.
public enum LedgerVerifier {
    /// What is checked; the raw value names the check in every failure.
    public enum Check: String, CaseIterable, Sendable {
        /// Per account: the sum of its entries = its grants' remainders less its debt.
        case accountBalance = "account_balance"
        /// Per account: `entries_total` = the sum of its entries.
        case accountTotal = "account_total"
        /// Per entry, in id order per user: balance_after = the previous one + amount (from 0);
        /// the last one = the account's `entries_total`.
        case balanceAfter = "balance_after"
        /// Per grant: remaining = amount + its allocations, within [0, amount].
        case grantRemaining = "grant_remaining"
        /// Per entry: the grants it created and its allocations account for its amount.
        case entryAllocations = "entry_allocations"
        /// Per user: the debt the entries made and repaid never falls below 0 and ends at `debt`.
        case debt = "debt"
        /// Allocations and created grants belong to their entry's user.
        case allocationOwner = "allocation_owner"
        /// A paid payment with credits bought exactly one grant, of its credits, for its user.
        case paymentGrant = "payment_grant"
        /// A grant that came from a payment points at an existing paid payment of its user.
        case grantPayment = "grant_payment"
        /// A granted crypto purchase has exactly its grant, of its credits, for its user.
        case purchaseGrant = "purchase_grant"
        /// A hold's entries match its row: the hold entry took what it reserved; once ended its
        /// release gave all of that back (none while held); its capture took what it captured.
        case holdBalance = "hold_balance"
        /// A transfer's entries match its row on both sides: out (or escrow) −credits; in
        /// +credits once completed or released; a refund +credits once refunded; nothing else.
        case transferBalance = "transfer_balance"
    }

    public struct Failure: Sendable, Equatable {
        public let check: Check
        public let userID: String
        /// The rows at fault, by kind (`entry_id`, `grant_id`, `payment_id`, `purchase_id`), in order.
        public let rows: [RowRef]
        /// For people; starts with the rows (`entry 12: …`).
        public let problem: String

        public struct RowRef: Sendable, Equatable {
            public let key: String
            public let id: String
            /// A number for bigint ids, a string for uuids.
            public let json: JSON
        }

        /// One line: the check, the user and the problem (which names the rows).
        public var line: String { "\(check.rawValue) \(userID): \(problem)" }
    }

    public struct Report: Sendable {
        public let accounts: Int64
        public let failures: [Failure]
        public var ok: Bool { failures.isEmpty }
        /// The accounts that fail, each once, sorted.
        public var failingAccounts: [String] { Array(Set(failures.map(\.userID))).sorted() }
        /// The checks that fail, each once, in the order they run.
        public var failingChecks: [Check] { Check.allCases.filter { c in failures.contains { $0.check == c } } }
    }

    /// Entry kinds whose shortfall may become debt (they take more than the grants hold).
    static let debtKinds = ["clawback"]
    /// Entry kinds that give credits back to the grants they came from (a hold's release, an escrow's refund).
    static let restoreKinds = ["hold.release", "transfer.refund"]
    /// Entry kinds of grants given back to a payment after it was bought (a won dispute).
    static let giveBackKinds = ["clawback_reversal"]
    /// Purchase statuses that hold a grant: granted, and reversed after being granted.
    static let grantedPurchaseStatuses = PurchaseStatus.allCases.filter { $0.isGranted || $0 == .reversed }.map(\.rawValue)

    /// Reads in one REPEATABLE READ transaction, so every check sees the same moment.
    public static func verify(on connection: Connection) throws -> Report {
        try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        do {
            let report = try check(connection)
            try connection.execute("COMMIT")
            return report
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    private static func check(_ c: Connection) throws -> Report {
        var failures: [Failure] = []
        func fail(_ check: Check, _ user: String, _ rows: [(String, Int64)], _ problem: String) {
            failures.append(Failure(check: check, userID: user, rows: rows.map { Failure.RowRef(key: $0.0, id: String($0.1), json: .int($0.1)) },
                                    problem: problem))
        }

        for row in try c.query(LedgerQueries.verifyAccountBalance) {
            let entries = try row.int64("entries"), remaining = try row.int64("remaining"), debt = try row.int64("debt")
            fail(.accountBalance, try row.string("user_id"), [],
                 "account: entries sum to \(entries) but grants hold \(remaining) less debt \(debt) = \(remaining - debt)")
        }
        for row in try c.query(LedgerQueries.verifyAccountTotal) {
            fail(.accountTotal, try row.string("user_id"), [],
                 "account: the running total is \(try row.int64("entries_total")) but its entries sum to \(try row.int64("entries"))")
        }
        for row in try c.query(LedgerQueries.verifyBalanceAfter) {
            let id = try row.int64("id"), user = try row.string("user_id")
            let after = try row.int64("balance_after"), previous = try row.int64("previous"), amount = try row.int64("amount")
            if after != previous + amount {
                fail(.balanceAfter, user, [("entry_id", id)],
                     "entry \(id): balance_after \(after) but the previous \(previous) plus its amount \(amount) = \(previous + amount)")
            }
            let total = try row.int64("entries_total")
            if try row.bool("last"), after != total {
                fail(.balanceAfter, user, [("entry_id", id)], "entry \(id): the last balance_after is \(after) but the account's running total is \(total)")
            }
        }
        for row in try c.query(LedgerQueries.verifyGrantRemaining) {
            let id = try row.int64("id"), amount = try row.int64("amount"), remaining = try row.int64("remaining")
            let allocated = try row.int64("allocated")
            var problem = "grant \(id): remaining \(remaining) but amount \(amount) plus allocations \(allocated) = \(amount + allocated)"
            if remaining < 0 { problem = "grant \(id): remaining \(remaining) is negative" }
            if remaining > amount { problem = "grant \(id): remaining \(remaining) is more than its amount \(amount)" }
            fail(.grantRemaining, try row.string("user_id"), [("grant_id", id)], problem)
        }
        for row in try c.query(LedgerQueries.verifyEntryAllocations, [debtKinds, restoreKinds]) {
            let id = try row.int64("id"), amount = try row.int64("amount"), kind = try row.string("kind")
            let created = try row.int64("created"), allocated = try row.int64("allocated"), own = try row.int64("own")
            let problem: String
            if try row.bool("restores") {
                problem = "entry \(id): \(kind) of \(amount) must give back exactly its amount to grants it did not create; its allocations sum to \(allocated)"
            } else if try row.int64("positive") > 0 {
                problem = "entry \(id): has a positive allocation (creating a grant is not an allocation; the grant's amount is)"
            } else if amount > 0, created != amount {
                problem = "entry \(id): adds \(amount) but the grants it created hold \(created)"
            } else if amount > 0 {
                problem = "entry \(id): adds \(amount) but its allocations take \(own - allocated) from grants it did not create"
            } else if created != 0 {
                problem = "entry \(id): takes \(-amount) but created grants of \(created)"
            } else if try row.bool("may_make_debt") {
                problem = "entry \(id): \(kind) of \(amount) but its allocations sum to \(allocated) (between its amount and 0: the rest is debt)"
            } else {
                problem = "entry \(id): \(kind) of \(amount) but its allocations sum to \(allocated)"
            }
            fail(.entryAllocations, try row.string("user_id"), [("entry_id", id)], problem)
        }
        for row in try c.query(LedgerQueries.verifyDebt) {
            let user = try row.string("user_id"), debtAfter = try row.int64("debt_after"), debt = try row.int64("debt")
            guard let id = try row.optInt64("id") else {
                fail(.debt, user, [], "account: debt \(debt) but it has no entries")
                continue
            }
            if debtAfter < 0 {
                fail(.debt, user, [("entry_id", id)], "entry \(id): repays more debt than was owed (debt after it \(debtAfter))")
            }
            if try row.bool("last"), debtAfter != debt {
                fail(.debt, user, [("entry_id", id)], "entry \(id): the entries leave a debt of \(debtAfter) but the account's debt is \(debt)")
            }
        }
        for row in try c.query(LedgerQueries.verifyAllocationOwner) {
            let entry = try row.int64("entry_id"), grant = try row.int64("grant_id"), other = try row.string("other_user")
            let problem = try row.string("kind") == "allocation"
                ? "entry \(entry): allocates from grant \(grant), which is \(other)'s"
                : "grant \(grant): created by entry \(entry), which is \(other)'s"
            fail(.allocationOwner, try row.string("user_id"), [("entry_id", entry), ("grant_id", grant)], problem)
        }
        for row in try c.query(LedgerQueries.verifyPaymentGrant, [giveBackKinds]) {
            let id = try row.int64("id"), credits = try row.int64("credits"), grants = try row.int64("grants")
            let user = try row.string("user_id"), kind = try row.string("kind"), status = try row.string("status")
            var rows: [(String, Int64)] = [("payment_id", id)]
            let problem: String
            if let grant = try row.optInt64("grant_id") {
                rows.append(("grant_id", grant))
                if status != "paid" || credits <= 0 {
                    problem = "payment \(id): \(status) with \(credits) credits but bought grant \(grant)"
                } else if !(try row.bool("grant_found")) {
                    problem = "payment \(id): its grant \(grant) does not exist"
                } else if let owner = try row.optString("grant_user"), owner != user {
                    problem = "payment \(id): its grant \(grant) is \(owner)'s"
                } else if let amount = try row.optInt64("grant_amount"), amount != credits {
                    problem = "payment \(id): bought \(credits) credits but its grant \(grant) holds \(amount)"
                } else if try row.optInt64("grant_payment") != id {
                    problem = "payment \(id): its grant \(grant) does not say it came from it (payment_id \(try row.optInt64("grant_payment").map(String.init) ?? "NULL"))"
                } else if grants != 1 {
                    problem = "payment \(id): \(grants) grants say they came from it; one expected"
                } else {
                    let expected = kind == "invoice" ? "subscription" : "topup"
                    problem = "payment \(id): a \(kind) buys a \(expected) grant, but grant \(grant) is \(try row.optString("grant_source") ?? "?")"
                }
            } else if status == "paid" && credits > 0 {
                problem = "payment \(id): paid for \(credits) credits but bought no grant"
            } else {
                problem = "payment \(id): \(status) with \(credits) credits but \(grants) grant(s) say they came from it"
            }
            fail(.paymentGrant, user, rows, problem)
        }
        for row in try c.query(LedgerQueries.verifyGrantPayment) {
            let id = try row.int64("id"), payment = try row.int64("payment_id"), user = try row.string("user_id")
            let problem: String
            if !(try row.bool("found")) {
                problem = "grant \(id): says it came from payment \(payment), which does not exist"
            } else if let owner = try row.optString("payment_user"), owner != user {
                problem = "grant \(id): says it came from payment \(payment), which is \(owner)'s"
            } else {
                problem = "grant \(id): says it came from payment \(payment), which is \(try row.optString("status") ?? "?")"
            }
            fail(.grantPayment, user, [("grant_id", id), ("payment_id", payment)], problem)
        }
        for row in try c.query(LedgerQueries.verifyPurchaseGrant, [grantedPurchaseStatuses, GrantSource.crypto.rawValue, "crypto:"]) {
            let id = try row.string("id"), user = try row.string("user_id"), status = try row.string("status")
            var rows = [Failure.RowRef(key: "purchase_id", id: id, json: .string(id))]
            let problem: String
            if let grant = try row.optInt64("grant_id") {
                rows.append(Failure.RowRef(key: "grant_id", id: String(grant), json: .int(grant)))
                let credits = try row.optInt64("credits")
                if !grantedPurchaseStatuses.contains(status) {
                    problem = "purchase \(id): \(status) but holds grant \(grant)"
                } else if !(try row.bool("grant_found")) {
                    problem = "purchase \(id): its grant \(grant) does not exist"
                } else if let owner = try row.optString("grant_user"), owner != user {
                    problem = "purchase \(id): its grant \(grant) is \(owner)'s"
                } else if let amount = try row.optInt64("grant_amount"), amount != credits {
                    problem = "purchase \(id): bought \(credits.map(String.init) ?? "no") credits but its grant \(grant) holds \(amount)"
                } else if let source = try row.optString("grant_source"), source != GrantSource.crypto.rawValue {
                    problem = "purchase \(id): its grant \(grant) is \(source), not crypto"
                } else if try row.int64("claims") != 1 {
                    problem = "purchase \(id): its grant \(grant) is claimed by \(try row.int64("claims")) purchases"
                } else {
                    problem = "purchase \(id): its grant \(grant) was made by entry \(try row.optString("grant_reference") ?? "?"), not crypto:\(id)"
                }
            } else {
                problem = "purchase \(id): \(status) but holds no grant"
            }
            failures.append(Failure(check: .purchaseGrant, userID: user, rows: rows, problem: problem))
        }
        for row in try c.query(LedgerQueries.verifyHoldBalance) {
            let id = try row.string("id"), status = try row.string("status"), reserved = try row.int64("reserved")
            let held = try row.optInt64("hold_entry"), released = try row.optInt64("released")
            let captured = try row.int64("captured"), capturedEntry = try row.optInt64("captured_entry") ?? 0
            let problem: String
            if held != reserved {
                problem = "hold \(id): reserved \(reserved) but its hold entry took \(held.map(String.init) ?? "nothing")"
            } else if status == "held" {
                problem = "hold \(id): held but released \(released ?? 0)"
            } else if released != reserved {
                problem = "hold \(id): \(status) but released \(released.map(String.init) ?? "nothing") of the \(reserved) reserved"
            } else {
                problem = "hold \(id): captured \(captured) but its capture entry took \(capturedEntry)"
            }
            failures.append(Failure(check: .holdBalance, userID: try row.string("user_id"),
                                    rows: [Failure.RowRef(key: "hold_id", id: id, json: .string(id))], problem: problem))
        }
        for row in try c.query(LedgerQueries.verifyTransferBalance) {
            let id = try row.string("id"), status = try row.string("status"), credits = try row.int64("credits")
            let out = try row.int64("taken"), delivered = try row.int64("delivered"), refunded = try row.int64("refunded")
            failures.append(Failure(check: .transferBalance, userID: try row.string("from_user_id"),
                                    rows: [Failure.RowRef(key: "transfer_id", id: id, json: .string(id))],
                                    problem: "transfer \(id): \(status) of \(credits) but the sender's entries took \(out), the recipient got \(delivered), refunds \(refunded)"))
        }
        let accounts = try c.query(LedgerQueries.countAccounts).first?.int64("n") ?? 0
        return Report(accounts: accounts, failures: failures)
    }
}
