import Support

/// Reads and validates the fields of a JSON object body, one call per field, each naming the
/// field in its 400 message. `finish()` refuses fields nobody read (a typo such as `unit` for
/// `units` is an error, as in Stripe's API, not silently ignored).
///
/// ```swift
/// var f = try request.jsonFields()
/// let userID = try f.userID("user_id")
/// let units = try f.positiveInt64("units")
/// try f.finish()
/// ```
public struct Fields: Sendable {
    private let members: [String: JSON]
    private var read: Set<String> = []

    public init(_ object: [String: JSON]) { self.members = object }

    /// Every member, for bodies read loosely (webhooks carry many fields we do not use).
    public var all: [String: JSON] { members }

    /// Parses `body` as a JSON object (strict: invalid UTF-8, trailing data, etc. are 400).
    public init(body: [UInt8]) throws(APIError) {
        guard !body.isEmpty else { throw .invalid("the body must be a JSON object; it is empty") }
        let json: JSON
        do { json = try JSON.parse(body) } catch { throw .invalid("the body is not valid JSON: \(error.description)") }
        guard case .object(let members) = json else { throw .invalid("the body must be a JSON object") }
        self.members = members
    }

    private mutating func value(_ name: String) -> JSON? {
        read.insert(name)
        guard let v = members[name], !v.isNull else { return nil }
        return v
    }

    /// A required string of 1 to `maxBytes` bytes without control characters.
    public mutating func string(_ name: String, maxBytes: Int = 256) throws(APIError) -> String {
        guard let s = try optionalString(name, maxBytes: maxBytes) else { throw .invalid("\(name) is required") }
        return s
    }

    public mutating func optionalString(_ name: String, maxBytes: Int = 256) throws(APIError) -> String? {
        guard let v = value(name) else { return nil }
        guard let s = v.string else { throw .invalid("\(name) must be a string") }
        try Self.checkText(s, name: name, maxBytes: maxBytes)
        return s
    }

    /// A JSON `true` or `false`, or nil when absent or null.
    public mutating func optionalBool(_ name: String) throws(APIError) -> Bool? {
        guard let v = value(name) else { return nil }
        guard let b = v.bool else { throw .invalid("\(name) must be true or false") }
        return b
    }

    /// A user id: 1 to 128 of `A-Z a-z 0-9 _ - . @ +`. No `:` (it separates the parts of
    /// idempotency keys, so `usage:<user>:<key>` can never be read two ways) and nothing that
    /// needs escaping in a URL path.
    public mutating func userID(_ name: String = "user_id") throws(APIError) -> String {
        let s = try string(name, maxBytes: 128)
        try Self.checkUserID(s, name: name)
        return s
    }

    /// A name such as an agent, an action or a product: 1 to 128 of `A-Z a-z 0-9 _ - . : /`.
    public mutating func name(_ name: String) throws(APIError) -> String {
        let s = try string(name, maxBytes: 128)
        guard s.utf8.allSatisfy({ Self.isNameByte($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "/") }) else {
            throw .invalid("\(name) may contain only letters, digits and _ - . : /")
        }
        return s
    }

    /// The caller's idempotency key: 1 to 255 bytes of printable text.
    public mutating func idempotencyKey(_ name: String = "idempotency_key") throws(APIError) -> String {
        guard let k = try optionalIdempotencyKey(name) else { throw .invalid("\(name) is required") }
        return k
    }

    public mutating func optionalIdempotencyKey(_ name: String = "idempotency_key") throws(APIError) -> String? {
        try optionalString(name, maxBytes: 255)
    }

    /// A JSON integer (no fraction, no exponent, no string) greater than zero that fits Int64.
    public mutating func positiveInt64(_ name: String, maximum: Int64 = .max) throws(APIError) -> Int64 {
        guard let n = try optionalPositiveInt64(name, maximum: maximum) else { throw .invalid("\(name) is required") }
        return n
    }

    /// A whole number from 0 to `maximum`, or nil when the field is absent or null.
    public mutating func optionalNonNegativeInt64(_ name: String, maximum: Int64) throws(APIError) -> Int64? {
        guard let v = value(name) else { return nil }
        guard let text = v.numberText, let n = Int64(text), n >= 0, n <= maximum else {
            throw .invalid("\(name) must be a whole number from 0 to \(maximum)")
        }
        return n
    }

    /// `positiveInt64`, or nil when the field is absent or null.
    public mutating func optionalPositiveInt64(_ name: String, maximum: Int64 = .max) throws(APIError) -> Int64? {
        guard let v = value(name) else { return nil }
        guard let text = v.numberText else { throw .invalid("\(name) must be a number") }
        guard let n = Int64(text) else {
            throw .invalid("\(name) must be a whole number that fits in 64 bits, got \(text.prefix(40))")
        }
        guard n > 0 else { throw .invalid("\(name) must be greater than zero, got \(n)") }
        guard n <= maximum else { throw .invalid("\(name) must be at most \(maximum), got \(n)") }
        return n
    }

    /// A non-empty array of positive integers, at most `maxCount`.
    public mutating func positiveInt64Array(_ name: String, maxCount: Int) throws(APIError) -> [Int64] {
        guard let v = value(name) else { throw .invalid("\(name) is required") }
        guard let items = v.array else { throw .invalid("\(name) must be an array of integers") }
        guard !items.isEmpty, items.count <= maxCount else { throw .invalid("\(name) must have 1 to \(maxCount) items") }
        var out: [Int64] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let n = item.int64, n > 0 else { throw .invalid("\(name) must contain only positive whole numbers") }
            out.append(n)
        }
        return out
    }

    /// One of `allowed`.
    public mutating func oneOf(_ name: String, _ allowed: [String]) throws(APIError) -> String {
        let s = try string(name, maxBytes: 64)
        guard allowed.contains(s) else { throw .invalid("\(name) must be one of \(allowed.joined(separator: ", ")), got \(s)") }
        return s
    }

    /// Refuses fields that no call read.
    public func finish() throws(APIError) {
        let unknown = members.keys.filter { !read.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw .invalid("unknown field\(unknown.count > 1 ? "s" : "") \(unknown.map { String($0.prefix(64)) }.joined(separator: ", "))")
        }
    }

    // MARK: Shared checks (path parameters use them too)

    static func checkText(_ s: String, name: String, maxBytes: Int) throws(APIError) {
        guard !s.isEmpty else { throw .invalid("\(name) must not be empty") }
        guard s.utf8.count <= maxBytes else { throw .invalid("\(name) must be at most \(maxBytes) bytes") }
        guard !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw .invalid("\(name) must not contain control characters")
        }
    }

    public static func checkUserID(_ s: String, name: String = "user_id") throws(APIError) {
        try checkText(s, name: name, maxBytes: 128)
        guard s.utf8.allSatisfy({ isNameByte($0) || $0 == UInt8(ascii: "@") || $0 == UInt8(ascii: "+") }) else {
            throw .invalid("\(name) may contain only letters, digits and _ - . @ +")
        }
    }

    static func isNameByte(_ b: UInt8) -> Bool {
        switch b {
        case 48...57, 65...90, 97...122, UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."): true
        default: false
        }
    }
}
