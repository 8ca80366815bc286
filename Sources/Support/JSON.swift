/// A JSON value that keeps numbers as their source text.
///
/// Why not `JSONSerialization`: it turns every number into a `Double`, and money in Tally is
/// never allowed near floating point (DESIGN.md, Hard rules). A price such as `63968.123456789`
/// or a wei amount of 30 digits must reach the integer maths exactly as it was written, so
/// `.number` holds the literal and callers ask for `int64` or the text.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number exactly as written in the document (validated JSON number syntax).
    case number(String)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    // MARK: Building

    public static func int(_ value: Int64) -> JSON { .number(String(value)) }
    public static func int(_ value: Int) -> JSON { .number(String(value)) }

    // MARK: Reading

    public subscript(key: String) -> JSON? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public subscript(index: Int) -> JSON? {
        if case .array(let items) = self, items.indices.contains(index) { return items[index] }
        return nil
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var array: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var object: [String: JSON]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The number's literal text, if this is a number.
    public var numberText: String? {
        if case .number(let n) = self { return n }
        return nil
    }

    /// An exact integer: a number literal without fraction or exponent that fits in Int64.
    /// `1.0` and `1e3` are refused rather than rounded: amounts must be written as integers.
    public var int64: Int64? {
        guard case .number(let n) = self else { return nil }
        return Int64(n)
    }

    public var int: Int? { int64.flatMap { Int(exactly: $0) } }

    /// A string or integer id: Stripe and BitGo use strings, our own ids are integers.
    public var idString: String? {
        switch self {
        case .string(let s): return s
        case .number(let n) where Int64(n) != nil: return n
        default: return nil
        }
    }

    /// Follows a path of object keys: `json.at("data", "object", "id")`.
    public func at(_ path: String...) -> JSON? {
        var current: JSON? = self
        for key in path { current = current?[key] }
        return current
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .number(String(value)) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        var members: [String: JSON] = [:]
        for (k, v) in elements { members[k] = v }
        self = .object(members)
    }
    public init(nilLiteral: ()) { self = .null }
}

extension JSON {
    /// `.string(s)` or `.null` for an optional.
    public static func optional(_ value: String?) -> JSON { value.map(JSON.string) ?? .null }
    public static func optional(_ value: Int64?) -> JSON { value.map { JSON.int($0) } ?? .null }
}
