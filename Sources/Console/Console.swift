import Foundation
import HTTPServer
import Postgres
import Support
import Synchronization

/// `tally console`: the operator console (DESIGN.md, "The operator console"), on the same HTTP
/// server as the ingress but in its own process, so an operator page never shares an event
/// loop or a database pool with app traffic.
public final class Console: Service {
    public var name: String { "console" }
    public let config: ConsoleConfig
    public let context: ConsoleContext
    private let server: HTTPServer
    private let stopSignal = WakeSignal()

    public init(config: ConsoleConfig, routes: [any ConsoleRoute] = ConsoleRoutes.all) throws {
        self.config = config
        // Custom plans for every statement: a page's filters are optional (`$1 IS NULL OR
        // state = $1`), and only a plan made for the values given can use the index that
        // fits them (a cached generic plan walked the whole table for `before` or a rare
        // state). Planning costs a fraction of a millisecond; operator pages are few.
        let pool = ConnectionPool(url: config.databaseURL, maxConnections: config.poolSize, applicationName: "tally-console",
                                  settings: ["plan_cache_mode": "force_custom_plan"], limits: config.sessionLimits)
        let context = ConsoleContext(config: config, pool: pool)
        self.context = context
        let router = ConsoleRouter(routes)
        server = try HTTPServer(config: config.server, handler: { request in
            await Console.respond(to: request, router: router, context: context)
        })
    }

    /// The bound port (the one picked when TALLY_CONSOLE_LISTEN asked for port 0).
    public var port: UInt16 { server.port }

    /// Starts serving without blocking (tests); `stop()` ends it.
    public func start() {
        server.start()
        Log.info("console listening", ["address": "\(config.server.host):\(server.port)", "secure_cookies": config.secureCookies])
    }

    public func stop() {
        server.stop(grace: 5)
        context.pool.close()
    }

    public func run() async throws {
        start()
        await stopSignal.wait(seconds: nil)
        // stop() blocks (it joins the loop threads): on a thread of its own, not the cooperative pool.
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            Thread { [self] in
                stop()
                c.resume()
            }.start()
        }
        Log.info("console stopped", [:])
    }

    public func shutdown() { stopSignal.signal() }

    // MARK: Requests

    static let sessionCookie = "tally_console_session"

    /// Routes (404, 405), finds the session (signed out: GET → the sign-in page, POST → 403),
    /// checks the CSRF token of every signed-in POST (403, nothing run), runs the route.
    static func respond(to http: HTTPRequest, router: ConsoleRouter, context: ConsoleContext) async -> HTTPResponse {
        var session: OperatorSession?
        do {
            let route: any ConsoleRoute, parameters: [String: String]
            switch router.match(method: http.method, path: http.path) {
            case .found(let r, let p): (route, parameters) = (r, p)
            case .methodNotAllowed: throw ConsoleError.methodNotAllowed("\(http.method.prefix(16)) is not allowed here")
            case .notFound: throw ConsoleError.notFound("no page \(http.path.prefix(200))")
            }
            var request = try ConsoleRequest(http: http, parameters: parameters)
            if type(of: route).signedIn {
                if let cookie = request.cookies[sessionCookie] {
                    session = try await context.read { try Operators.session(cookie: cookie, on: $0) }
                }
                guard let session else {
                    if http.method == "GET" {
                        let next = http.path == "/" ? "" : "?next=" + HTML.queryValue(http.path + (http.query.map { "?" + $0 } ?? ""))
                        return .seeOther("/sign-in" + next)
                    }
                    throw ConsoleError.forbidden("you are not signed in (or your session ended): nothing was changed")
                }
                request.session = session
                if http.method == "POST" {
                    try checkCSRF(request, expected: session.csrfToken)
                }
            }
            return try await route.handle(request, context)
        } catch let error as ConsoleError {
            return errorPage(error.status, error.message, session: session)
        } catch {
            Log.warn("console request failed", ["path": String(http.path.prefix(200)), "error": "\(error)"])
            return errorPage(503, "the database did not answer: \(error)", session: session)
        }
    }

    /// A POST must carry the form's CSRF token and must not come from another site.
    static func checkCSRF(_ request: ConsoleRequest, expected: String) throws(ConsoleError) {
        if request.http.header("sec-fetch-site") == "cross-site" {
            throw .forbidden("a request from another site: nothing was changed")
        }
        guard let token = request.form["csrf"], Crypto.constantTimeEquals(Array(token.utf8), Array(expected.utf8)) else {
            throw .forbidden("the form's CSRF token is missing or wrong (reload the page and try again): nothing was changed")
        }
    }

    static func errorPage(_ status: Int, _ message: String, session: OperatorSession?) -> HTTPResponse {
        .html(status, Layout.page(HTTPResponse.reason(status), session: session, "<p class=\"notice error\">\(message)</p>"))
    }
}
