import Foundation
import Support

/// The rows of a result, copied out of libpq before `PQclear` (a result pointer never crosses
/// threads). Cells are text (PostgreSQL's text format), decoded on access.
public struct Rows: Sendable, RandomAccessCollection {
    public let columns: [String]
    /// Row-major cells: `cells[row * columns.count + column]`.
    let cells: [String?]
    /// Rows affected by INSERT/UPDATE/DELETE (`PQcmdTuples`), or the row count for SELECT.
    public let affected: Int

    public init(columns: [String], cells: [String?], affected: Int) {
        self.columns = columns
        self.cells = cells
        self.affected = affected
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { columns.isEmpty ? 0 : cells.count / columns.count }
    public subscript(position: Int) -> Row { Row(rows: self, index: position) }

    public func columnIndex(_ name: String) -> Int? { columns.firstIndex(of: name) }
}
