import Foundation

/// An operator as `tally operators list` shows one (never the token: only its first characters).
public struct OperatorInfo: Sendable {
    public let id: Int64
    public let name: String
    public let tokenPrefix: String
    public let createdAt: Date
    public let lastSignInAt: Date?
    public let revokedAt: Date?
    /// Sessions not yet expired.
    public let sessions: Int64
}
