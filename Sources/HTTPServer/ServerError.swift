/// The HTTP server could not start or run (bind, epoll, configuration).
public struct ServerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
