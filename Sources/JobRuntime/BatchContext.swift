import Support

/// What a batch run may use besides its transaction.
public struct BatchContext: Sendable {
    public let environment: Environment
    public let workerID: String
    /// True on a batch's first transaction: the handler may leave out (`.deferred`) jobs whose
    /// rows another transaction holds, instead of waiting for it; they run in a second
    /// transaction right after, where waiting is allowed (and `mayDefer` is false).
    public let mayDefer: Bool

    public init(environment: Environment, workerID: String, mayDefer: Bool = false) {
        self.environment = environment
        self.workerID = workerID
        self.mayDefer = mayDefer
    }

    public func deferring(_ allowed: Bool) -> BatchContext {
        BatchContext(environment: environment, workerID: workerID, mayDefer: allowed)
    }
}
