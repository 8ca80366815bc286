import Foundation
import Support

/// One row; typed accessors throw a decoding error naming the column when the value is NULL
/// or not of the asked type.
public struct Row: Sendable {
    let rows: Rows
    let index: Int

    public func raw(_ column: String) throws -> String? {
        guard let c = rows.columnIndex(column) else {
            throw PostgresError(kind: .decoding, message: "no column \"\(column)\" in the result (columns: \(rows.columns.joined(separator: ", ")))")
        }
        return rows.cells[index * rows.columns.count + c]
    }

    public func raw(at column: Int) -> String? { rows.cells[index * rows.columns.count + column] }

    private func required(_ column: String) throws -> String {
        guard let v = try raw(column) else {
            throw PostgresError(kind: .decoding, message: "column \"\(column)\" is NULL")
        }
        return v
    }

    private func bad(_ column: String, _ type: String, _ value: String) -> PostgresError {
        PostgresError(kind: .decoding, message: "column \"\(column)\" is not \(type): \(value.prefix(80))")
    }

    public func isNull(_ column: String) throws -> Bool { try raw(column) == nil }

    public func string(_ column: String) throws -> String { try required(column) }
    public func optString(_ column: String) throws -> String? { try raw(column) }

    public func int64(_ column: String) throws -> Int64 {
        let v = try required(column)
        guard let n = Int64(v) else { throw bad(column, "an integer", v) }
        return n
    }

    public func optInt64(_ column: String) throws -> Int64? {
        guard let v = try raw(column) else { return nil }
        guard let n = Int64(v) else { throw bad(column, "an integer", v) }
        return n
    }

    public func int(_ column: String) throws -> Int {
        let v = try required(column)
        guard let n = Int(v) else { throw bad(column, "an integer", v) }
        return n
    }

    public func optInt(_ column: String) throws -> Int? {
        guard let v = try raw(column) else { return nil }
        guard let n = Int(v) else { throw bad(column, "an integer", v) }
        return n
    }

    public func bool(_ column: String) throws -> Bool {
        let v = try required(column)
        switch v {
        case "t", "true": return true
        case "f", "false": return false
        default: throw bad(column, "a boolean", v)
        }
    }

    public func optBool(_ column: String) throws -> Bool? {
        guard try raw(column) != nil else { return nil }
        return try bool(column)
    }

    public func date(_ column: String) throws -> Date {
        let v = try required(column)
        guard let d = Timestamp.parse(v) else { throw bad(column, "a timestamp", v) }
        return d
    }

    public func optDate(_ column: String) throws -> Date? {
        guard try raw(column) != nil else { return nil }
        return try date(column)
    }

    public func json(_ column: String) throws -> JSON {
        let v = try required(column)
        do { return try JSON.parse(v) } catch { throw bad(column, "JSON", v) }
    }

    public func optJSON(_ column: String) throws -> JSON? {
        guard try raw(column) != nil else { return nil }
        return try json(column)
    }

    public func stringArray(_ column: String) throws -> [String?] {
        let v = try required(column)
        guard let a = PostgresArray.parse(v) else { throw bad(column, "an array", v) }
        return a
    }

    public func int64Array(_ column: String) throws -> [Int64] {
        try stringArray(column).map { cell in
            guard let cell, let n = Int64(cell) else { throw bad(column, "an integer array", cell ?? "NULL") }
            return n
        }
    }
}
