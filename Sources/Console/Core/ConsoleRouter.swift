import HTTPServer

/// Matches a path to a route: literal segments and `{name}` parameters, percent-decoded.
struct ConsoleRouter: Sendable {
    enum Match {
        case found(any ConsoleRoute, [String: String])
        case notFound
        case methodNotAllowed
    }

    private let routes: [(method: String, segments: [Substring], route: any ConsoleRoute)]

    init(_ routes: [any ConsoleRoute]) {
        self.routes = routes.map { r in
            let type = type(of: r)
            return (type.method, type.path.split(separator: "/", omittingEmptySubsequences: false), r)
        }
    }

    func match(method: String, path: String) -> Match {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        var pathMatched = false
        for entry in routes where entry.segments.count == parts.count {
            var parameters: [String: String] = [:]
            var ok = true
            for (segment, part) in zip(entry.segments, parts) {
                if segment.hasPrefix("{") && segment.hasSuffix("}") {
                    guard !part.isEmpty, let decoded = PercentDecoding.decode(part) else { ok = false; break }
                    parameters[String(segment.dropFirst().dropLast())] = decoded
                } else if segment != part {
                    ok = false
                    break
                }
            }
            guard ok else { continue }
            if entry.method == method { return .found(entry.route, parameters) }
            pathMatched = true
        }
        return pathMatched ? .methodNotAllowed : .notFound
    }
}
