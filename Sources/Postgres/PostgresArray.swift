import Foundation
import Support

/// PostgreSQL's one-dimensional array text format: `{a,"b c",NULL}`.
public enum PostgresArray {
    public static func parse(_ text: String) -> [String?]? {
        let b = Array(text.utf8)
        guard b.first == UInt8(ascii: "{"), b.last == UInt8(ascii: "}") else { return nil }
        var out: [String?] = []
        var i = 1
        let end = b.count - 1
        if i == end { return [] }
        while i < end {
            if b[i] == UInt8(ascii: "\"") {
                i += 1
                var bytes: [UInt8] = []
                while i < end, b[i] != UInt8(ascii: "\"") {
                    if b[i] == UInt8(ascii: "\\") { i += 1 }
                    guard i < end else { return nil }
                    bytes.append(b[i])
                    i += 1
                }
                i += 1
                out.append(String(decoding: bytes, as: UTF8.self))
            } else {
                let start = i
                while i < end, b[i] != UInt8(ascii: ",") { i += 1 }
                let s = String(decoding: b[start..<i], as: UTF8.self)
                out.append(s == "NULL" ? nil : s)
            }
            if i < end {
                guard b[i] == UInt8(ascii: ",") else { return nil }
                i += 1
            }
        }
        return out
    }
}
