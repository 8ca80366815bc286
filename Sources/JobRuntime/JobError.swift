/// Errors a handler throws to steer the queue.
public enum JobError: Error, CustomStringConvertible, Sendable {
    /// Retrying cannot help (bad args, a missing setting, a refused request): discard now.
    case permanent(String)

    public var description: String {
        switch self {
        case .permanent(let m): m
        }
    }
}
