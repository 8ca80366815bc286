import Foundation

/// Args that do not decode into a kind's `Args`: which field and why. The worker discards such
/// a job (`JobError.permanent` with this text); `tally enqueue` refuses it before it exists
/// (`AnyJobHandler.validate(argsJSON:)`).
public struct ArgsError: Error, CustomStringConvertible, Sendable {
    public let kind: String
    public let reason: String

    init(kind: String, decoding error: any Error) {
        self.kind = kind
        self.reason = Self.describe(error)
    }

    public var description: String { "args do not fit \(kind): \(reason)" }

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
