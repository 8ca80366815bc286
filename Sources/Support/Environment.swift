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

    // MARK: Checked settings (read once at start: a bad value stops the process, naming it)

    /// A duration setting of at least `minimum`; a value that is not one is an error.
    public func checkedDuration(_ name: String, default value: TimeInterval, minimum: TimeInterval = 0) throws -> TimeInterval {
        guard let text = self[name] else { return value }
        guard let seconds = DurationText.parse(text) ?? Double(text), seconds.isFinite, seconds >= minimum else {
            throw ConfigurationError(setting: name, invalid: text,
                                     expected: "a duration of at least \(DurationText.format(minimum)), such as 30s, 10m, 2h or 7d")
        }
        return seconds
    }

    /// An `on` / `off` setting (any case); anything else is an error.
    public func checkedSwitch(_ name: String, default value: Bool) throws -> Bool {
        switch self[name]?.lowercased() {
        case nil: return value
        case "on": return true
        case "off": return false
        case let other?: throw ConfigurationError(setting: name, invalid: other, expected: "on or off")
        }
    }

    /// A whole-number setting within `range`; anything else is an error.
    public func checkedInt(_ name: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = self[name] else { return value }
        guard let n = Int(text), range.contains(n) else {
            throw ConfigurationError(setting: name, invalid: text, expected: "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// An optional whole-number setting within `range` (nil when unset).
    public func checkedInt(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard self[name] != nil else { return nil }
        return try checkedInt(name, default: range.lowerBound, in: range)
    }
}
