/// A setting a feature needs is missing from the environment.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let setting: String
    public let purpose: String
    public init(setting: String, purpose: String) {
        self.setting = setting
        self.purpose = purpose
    }
    public var description: String { "\(setting) is not set; \(purpose) needs it" }
}
