enum ArgsError {
    /// `DecodingError`'s description is a wall of text; say which field and why.
    static func describe(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return String(describing: error) }
        func path(_ c: DecodingError.Context) -> String {
            let p = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "(top level)" : p
        }
        switch e {
        case .keyNotFound(let key, let c): return "missing \(path(c).isEmpty || c.codingPath.isEmpty ? key.stringValue : path(c) + "." + key.stringValue)"
        case .typeMismatch(let type, let c): return "\(path(c)) is not \(type)"
        case .valueNotFound(let type, let c): return "\(path(c)) is null, expected \(type)"
        case .dataCorrupted(let c): return "\(path(c)): \(c.debugDescription)"
        @unknown default: return String(describing: e)
        }
    }
}
