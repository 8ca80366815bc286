/// A table for people: columns aligned, a header, right-aligned numbers.
struct Table {
    let headers: [String]
    var rows: [[String]] = []

    init(_ headers: [String]) { self.headers = headers }

    mutating func add(_ row: [String]) {
        precondition(row.count == headers.count, "table row has \(row.count) cells for \(headers.count) columns")
        rows.append(row)
    }

    func render() -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        let numeric = headers.indices.map { i in
            !rows.isEmpty && rows.allSatisfy { row in row[i].isEmpty || row[i].allSatisfy { $0.isNumber || $0 == "-" || $0 == "." } }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, cell) in cells.enumerated() {
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                let last = i == cells.count - 1
                parts.append(numeric[i] ? pad + cell : (last ? cell : cell + pad))
            }
            return parts.joined(separator: "  ")
        }
        var out = line(headers.map { $0.uppercased() })
        for row in rows { out += "\n" + line(row) }
        return out
    }
}
