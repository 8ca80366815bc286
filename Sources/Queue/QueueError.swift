/// Why the queue refused a request: invalid input, no such job, or a conflict to retry.
public enum QueueError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalid(String)
    case notFound(String)
    case conflict(String)

    public var description: String {
        switch self {
        case .invalid(let m), .notFound(let m), .conflict(let m): m
        }
    }
}
