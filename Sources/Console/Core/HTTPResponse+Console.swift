import HTTPServer

extension HTTPResponse {
    /// Headers on every console answer: no caching of operator data, no framing, no sniffing,
    /// and a policy that allows only the console's own stylesheet and script (no outside assets).
    static let consoleHeaders = [
        HTTPHeader(name: "Cache-Control", value: "no-store"),
        HTTPHeader(name: "X-Content-Type-Options", value: "nosniff"),
        HTTPHeader(name: "X-Frame-Options", value: "DENY"),
        HTTPHeader(name: "Referrer-Policy", value: "same-origin"),
        HTTPHeader(name: "Content-Security-Policy",
                   value: "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    ]

    static func html(_ status: Int, _ page: HTML, headers: [HTTPHeader] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [HTTPHeader(name: "Content-Type", value: "text/html; charset=utf-8")] + consoleHeaders + headers,
                     body: Array(page.text.utf8))
    }

    /// 303 See Other: after a POST, the browser GETs `location` (post, redirect, get).
    static func seeOther(_ location: String, headers: [HTTPHeader] = []) -> HTTPResponse {
        HTTPResponse(status: 303, headers: [HTTPHeader(name: "Location", value: location)] + consoleHeaders + headers)
    }

    /// A `Set-Cookie` for the console: HttpOnly, SameSite=Strict, Path=/, `Secure` when asked.
    static func cookie(_ name: String, _ value: String, maxAge: Int, secure: Bool) -> HTTPHeader {
        HTTPHeader(name: "Set-Cookie", value: "\(name)=\(value); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : ""))
    }
}
