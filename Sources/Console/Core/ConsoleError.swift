/// Why a console request is refused; each becomes an HTML error page with its status.
public enum ConsoleError: Error, Sendable {
    case badRequest(String)
    case notFound(String)
    case methodNotAllowed(String)
    /// A POST without the session's CSRF token, or from another site: nothing was changed.
    case forbidden(String)

    var status: Int {
        switch self {
        case .badRequest: 400
        case .notFound: 404
        case .methodNotAllowed: 405
        case .forbidden: 403
        }
    }

    var message: String {
        switch self {
        case .badRequest(let m), .notFound(let m), .methodNotAllowed(let m), .forbidden(let m): m
        }
    }
}
