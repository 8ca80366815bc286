import Foundation

/// Configuration comes from the environment (DESIGN.md, "The command").
public struct Environment: Sendable {
    public var values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    public subscript(name: String) -> String? {
        guard let v = values[name], !v.isEmpty else { return nil }
        return v
    }

    /// A required setting; the error names the setting so an operator knows what to set.
    public func require(_ name: String, for purpose: String) throws -> String {
        guard let v = self[name] else { throw ConfigurationError(setting: name, purpose: purpose) }
        return v
    }

    public func double(_ name: String, default value: Double) -> Double {
        self[name].flatMap(Double.init) ?? value
    }

    public func int(_ name: String, default value: Int) -> Int {
        self[name].flatMap(Int.init) ?? value
    }

    /// A duration setting (`30s`, `5m`, or plain seconds).
    public func duration(_ name: String, default value: TimeInterval) -> TimeInterval {
        guard let text = self[name] else { return value }
        return DurationText.parse(text) ?? Double(text) ?? value
    }
}
