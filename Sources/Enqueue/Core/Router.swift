import Foundation
import HTTPServer
import Support

/// Matches a request to an endpoint in DESIGN.md's order: 404 when no pattern matches the
/// path, 405 when one does but not for this method, 401 for a missing or unknown API key.
public struct Router: Sendable {
    struct Entry: Sendable {
        let method: String
        let segments: [Segment]
        let pattern: String
        let endpoint: any Endpoint
        let access: Access
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    enum Match {
        case found(Entry, [String: String])
        case notFound
        case methodNotAllowed([String])
    }

    private let entries: [Entry]

    public init(_ endpoints: [any Endpoint]) {
        var entries: [Entry] = []
        for e in endpoints {
            let type = type(of: e)
            let segments = Router.split(type.path).map { s -> Segment in
                s.hasPrefix("{") && s.hasSuffix("}") ? .parameter(String(s.dropFirst().dropLast())) : .literal(String(s))
            }
            precondition(!entries.contains { $0.method == type.method && $0.segments == segments }, "route \(type.method) \(type.path) defined twice")
            entries.append(Entry(method: type.method, segments: segments, pattern: type.path, endpoint: e, access: type.access))
        }
        self.entries = entries
    }

    /// Every route as `METHOD /path`, for logs.
    public var routes: [String] { entries.map { "\($0.method) \($0.pattern)" } }

    static func split(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { $0 }
    }

    func match(method: String, path: String) -> Match {
        let parts = Router.split(path)
        var allowed: [String] = []
        for entry in entries where entry.segments.count == parts.count {
            var params: [String: String] = [:]
            var ok = true
            for (segment, part) in zip(entry.segments, parts) {
                switch segment {
                case .literal(let text):
                    if part != text { ok = false }
                case .parameter(let name):
                    guard !part.isEmpty else { ok = false; break }
                    // A malformed %-escape names no resource: no match (404).
                    guard let decoded = PercentDecoding.decode(part) else { ok = false; break }
                    params[name] = decoded
                }
                if !ok { break }
            }
            guard ok else { continue }
            if entry.method == method { return .found(entry, params) }
            allowed.append(entry.method)
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed)
    }
}
