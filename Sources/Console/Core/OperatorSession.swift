/// A signed-in operator, as a request of theirs carries it.
public struct OperatorSession: Sendable, Equatable {
    public let operatorID: Int64
    /// Their name: the actor of every audit row their actions write.
    public let name: String
    /// The token every form of this session carries and every POST must send back.
    public let csrfToken: String
}
