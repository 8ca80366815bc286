/// A queue that got jobs from a promotion pass, and how many.
public struct PromotedQueue: Sendable, Equatable {
    public let queue: String
    public let count: Int
}
