import Foundation
import Support

/// A value sent as a query parameter, in PostgreSQL's text format. Every query is
/// parameterised (DESIGN.md, Hard rules): values never become SQL text; the SQL names each
/// parameter's type with a cast (`$1::bigint`).
public protocol PostgresEncodable: Sendable {
    /// The text representation, or nil for SQL NULL.
    var postgresText: String? { get }
}

/// SQL NULL where a value is expected.
public struct SQLNull: PostgresEncodable {
    public init() {}
    public var postgresText: String? { nil }
}

extension String: PostgresEncodable { public var postgresText: String? { self } }
extension Substring: PostgresEncodable { public var postgresText: String? { String(self) } }
extension Int: PostgresEncodable { public var postgresText: String? { String(self) } }
extension Int64: PostgresEncodable { public var postgresText: String? { String(self) } }
extension Int32: PostgresEncodable { public var postgresText: String? { String(self) } }
extension Bool: PostgresEncodable { public var postgresText: String? { self ? "t" : "f" } }
extension Date: PostgresEncodable { public var postgresText: String? { Timestamp.iso8601Micros(self) } }
extension JSON: PostgresEncodable { public var postgresText: String? { serialized } }

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresText: String? {
        switch self {
        case .none: nil
        case .some(let v): v.postgresText
        }
    }
}

/// Arrays become PostgreSQL array literals (`{1,2,NULL}`, `{"a\"b"}`), for `unnest` batches.
extension Array: PostgresEncodable where Element: PostgresEncodable {
    public var postgresText: String? {
        // Built as UTF-8 bytes: appending per Unicode scalar took ~7 % of the ingress's CPU
        // in batch inserts (every jsonb element is full of quotes to escape).
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(count * 16 + 2)
        var first = true
        for element in self {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            guard let text = element.postgresText else {
                out.append(contentsOf: "NULL".utf8)
                continue
            }
            out.append(UInt8(ascii: "\""))
            for byte in text.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}
