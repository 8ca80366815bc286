/// A NOTIFY received on a LISTEN connection.
public struct PostgresNotification: Sendable, Equatable {
    public let channel: String
    public let payload: String
    public init(channel: String, payload: String) {
        self.channel = channel
        self.payload = payload
    }
}
