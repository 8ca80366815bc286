import Foundation
import Support

/// What is left of some grants, written off in one entry (`LedgerBook.writeOff`): expiry, or
/// the part of a rollover settlement that does not roll.
public struct WriteOff: Sendable {
    public var userID: String
    public var grantIDs: Set<Int64>
    public var reference: String
    public var kind: String
    public var metadata: JSON
    public var notification: NotificationType?

    public init(userID: String, grantIDs: Set<Int64>, reference: String, kind: String = "expiry", metadata: JSON = [:],
                notification: NotificationType? = nil) {
        self.userID = userID
        self.grantIDs = grantIDs
        self.reference = reference
        self.kind = kind
        self.metadata = metadata
        self.notification = notification
    }
}
