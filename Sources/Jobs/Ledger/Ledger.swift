import Foundation
import Postgres
import Support

/// Entry points of the ledger for code that changes one account at a time. Each runs in the
/// caller's transaction (`tx`); for several operations or accounts at once, use a
/// `LedgerBook` directly (these are a book of one operation).
public enum Ledger {
    /// How an account came to be.
    public enum Opener: String, Sendable {
        /// account.open (the app's signup): the trial is granted.
        case signup
        /// A payment for a user without an account: no trial.
        case payment
        case `operator`
    }

    /// The most credits one operation may move: 10^12 (DESIGN.md, "Limits everywhere"). Far
    /// above any real purchase (a million dollars at a tenth of a cent a credit), and small
    /// enough that 9 million operations at the limit still fit a 64-bit running total, so no
    /// input can make the ledger's arithmetic overflow. Grants, debits and clawbacks beyond it
    /// are refused by the book; the API, the commands, Stripe's metadata and products refuse it
    /// before that, each with its own message; the database's CHECKs (sql/0013) hold it too.
    public static let maxCredits: Int64 = 1_000_000_000_000

    /// `maxCredits` as people read it in error messages.
    public static let maxCreditsText = "10^12 (1000000000000)"

    /// Refuses `amount` credits when it is above `maxCredits`, naming `what` it is.
    public static func checkCredits(_ amount: Int64, _ what: String) throws {
        guard amount <= maxCredits else {
            throw LedgerError.invalid("\(what) is \(amount) credits, more than one operation may move: at most \(maxCreditsText)")
        }
    }

    /// What `accounts.user_id` accepts: 1 to 256 bytes.
    public static func isValidUserID(_ userID: String) -> Bool { !userID.isEmpty && userID.utf8.count <= 256 }

    /// Creates the account unless it exists; true when it was created. Records the referral
    /// code on an account that has none.
    @discardableResult
    public static func openAccount(_ userID: String, referralCode: String? = nil, openedBy: Opener, on tx: Connection) throws -> Bool {
        guard isValidUserID(userID) else { throw LedgerError.invalid("user_id must be 1 to 256 bytes") }
        if let code = referralCode, code.isEmpty || code.utf8.count > 128 {
            throw LedgerError.invalid("referral_code must be 1 to 128 bytes")
        }
        let created = try tx.query(LedgerQueries.openAccount, [userID, referralCode, openedBy.rawValue]).count == 1
        if !created, let referralCode { try tx.query(LedgerQueries.setReferralCode, [userID, referralCode]) }
        return created
    }

    /// Opens the accounts of these users that do not exist yet (without a trial or referral
    /// code), in one statement: a batch's users.
    public static func openAccounts(_ userIDs: [String], openedBy: Opener, on tx: Connection) throws {
        guard let bad = userIDs.first(where: { !isValidUserID($0) }) else {
            try tx.query(LedgerQueries.openAccounts, [userIDs.sorted(), openedBy.rawValue])
            return
        }
        throw LedgerError.invalid("user_id must be 1 to 256 bytes, got \(bad.utf8.count)")
    }

    /// Adds one grant and commits it. Nil when the reference was applied before.
    @discardableResult
    public static func grant(_ g: NewGrant, on tx: Connection) throws -> LedgerChange? {
        try single(g.userID, on: tx) { try $0.grant(g) }
    }

    /// Spends credits from one account and commits.
    public static func debit(_ d: Debit, on tx: Connection) throws -> DebitOutcome {
        try single(d.userID, on: tx) { try $0.debit(d) }
    }

    /// Takes credits back from one account and commits. Nil when applied before.
    @discardableResult
    public static func clawback(_ c: Clawback, on tx: Connection) throws -> LedgerChange? {
        try single(c.userID, on: tx) { try $0.clawback(c) }
    }

    /// A book of one account and one operation.
    private static func single<T>(_ userID: String, on tx: Connection, _ operation: (LedgerBook) throws -> T) throws -> T {
        let book = LedgerBook(tx)
        try book.load([userID])
        let result = try operation(book)
        try book.commit()
        return result
    }
}
