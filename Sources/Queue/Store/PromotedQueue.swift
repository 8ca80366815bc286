/// A queue that got jobs from a promotion pass, and how many.
public struct PromotedQueue: Sendable, Equatable {
    public let queue: String
    public let count: Int

    public init(queue: String, count: Int) {
        self.queue = queue
        self.count = count
    }
}
