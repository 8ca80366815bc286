import Queue

/// One job of a batch with its decoded args.
public struct BatchItem<Args: Sendable>: Sendable {
    public let job: ClaimedJob
    public let args: Args

    public init(job: ClaimedJob, args: Args) {
        self.job = job
        self.args = args
    }
}
