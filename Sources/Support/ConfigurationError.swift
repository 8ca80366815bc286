/// A setting is missing, or set to a value that cannot be used: the message names the setting
/// and what it needs, so an operator knows what to set.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let setting: String
    public let purpose: String
    /// The value given, when the setting was set but not usable.
    public let value: String?

    /// `setting` is missing; `purpose` needs it.
    public init(setting: String, purpose: String) {
        self.setting = setting
        self.purpose = purpose
        value = nil
    }

    /// `setting` is `value`, which is not `expected`.
    public init(setting: String, invalid value: String, expected: String) {
        self.setting = setting
        purpose = expected
        self.value = value
    }

    public var description: String {
        guard let value else { return "\(setting) is not set; \(purpose) needs it" }
        return "\(setting)=\"\(value)\" cannot be used: it must be \(purpose)"
    }
}
