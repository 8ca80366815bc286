/// One entry a book made (before commit its id is not known yet).
public struct LedgerChange: Sendable, Equatable {
    public let userID: String
    public let reference: String
    /// Signed: positive added, negative taken.
    public let amount: Int64
    /// The running sum of the user's entries after it.
    public let balanceAfter: Int64
    /// What the user can spend right after it (grants not past expiry, less debt).
    public let balance: Int64
    public let debt: Int64
    /// The grant it created, for a grant.
    public let grantID: Int64?
}

/// An entry as `LedgerBook.commit` wrote it.
public struct CommittedEntry: Sendable, Equatable {
    public let id: Int64
    public let userID: String
    public let amount: Int64
    public let kind: String
    public let reference: String
    public let balanceAfter: Int64
    public let balance: Int64
}
