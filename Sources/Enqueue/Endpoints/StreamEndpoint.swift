import Foundation
import HTTPServer
import Jobs
import Support

/// `GET /v1/stream?token=T[&last_event_id=N]` (or `Authorization: Bearer T`, `Last-Event-ID: N`):
/// the user's wallet in real time, as Server-Sent Events, or over WebSocket with `Upgrade:
/// websocket` (DESIGN.md, "Real time for app front ends"; docs/stream.md). A fresh stream gets
/// `snapshot` first; a resume gets the notifications after N, then live ones (`StreamHub`).
struct StreamEndpoint: Endpoint {
    static let method = "GET"
    static let path = "/v1/stream"
    static let access = Access.open

    /// Unwritten bytes past which the server closes a stream outright (the hub stops sending
    /// long before, at `StreamHub.Settings.stallBytes`).
    static let maxBufferedBytes = 4 << 20

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let cors = try Self.corsHeaders(request, context)
        do {
            return try await open(request, context, cors: cors)
        } catch {
            var answer = error
            answer.headers += cors
            throw answer
        }
    }

    private func open(_ request: EndpointRequest, _ context: IngressContext, cors: [HTTPHeader]) async throws(APIError) -> HTTPResponse {
        guard let query = request.http.queryItems else { throw .invalid("the query string has a malformed %-escape") }
        let bearer = request.header("authorization").flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard let text = query["token"] ?? bearer, !text.isEmpty else {
            throw .unauthorized("a stream token is required: ?token=… or Authorization: Bearer …, from POST /v1/accounts/{user_id}/stream-tokens")
        }
        let token = try await context.streamKeys.verify(text)
        var resume: Int64?
        if let last = query["last_event_id"] ?? request.header("last-event-id") {
            guard let n = Int64(last.trimmingCharacters(in: .whitespaces)), n >= 0 else { throw .invalid("last_event_id must be a seq, 0 or more") }
            resume = n
        }
        let userID = token.userID
        guard let snapshot = try await context.read({ c in try Inbox.snapshot(userID: userID, on: c) }) else {
            throw .notFound("no account for user \(userID)")
        }
        let hub = context.streams
        guard hub.streamCount(of: userID) < hub.settings.perUser else {
            throw APIError(status: 429, code: "too_many_streams",
                           message: "this user has \(hub.settings.perUser) streams open here (TALLY_STREAMS_PER_USER); close one first")
        }
        let webSocket = WebSocket.isUpgrade(request.http)
        let format: StreamFormat = webSocket
            ? .webSocket(frame: { WebSocket.frame(opcode: .text, payload: $0) }, ping: WebSocket.frame(opcode: .ping, payload: []))
            : .sse
        // What goes before the live events: a resume within what the inbox holds replays from
        // its id; anything else starts from a snapshot (after `reset` when a resume was asked).
        var opening = format.preamble
        let after: Int64
        if let resume, resume <= snapshot.seq, resume + 1 >= (snapshot.oldestSeq ?? 1) {
            after = resume
        } else {
            if resume != nil { opening += format.event("reset", id: nil, data: ["seq": .int(snapshot.seq)]) }
            opening += format.event("snapshot", id: snapshot.seq, data: snapshot.json)
            after = snapshot.seq
        }
        let first = opening
        let session = WebSocketSession()
        let opened: @Sendable (ServerStream) -> Void = { stream in
            stream.send(first)
            do { try hub.open(stream, userID: userID, after: after, format: format, token: token) } catch { stream.close() }
        }
        var received: (@Sendable (ServerStream, [UInt8]) -> Void)?
        if webSocket { received = { stream, bytes in session.received(bytes, on: stream) } }
        let closed: @Sendable (ServerStream) -> Void = { stream in hub.closed(stream.id) }
        let handler = StreamHandler(maxBufferedBytes: Self.maxBufferedBytes, opened: opened, received: received, closed: closed)
        var response: HTTPResponse
        if webSocket {
            guard let handshake = WebSocket.handshakeResponse(for: request.http) else { throw .invalid("a bad WebSocket handshake") }
            response = handshake
        } else {
            response = HTTPResponse(status: 200, headers: [
                HTTPHeader(name: "Content-Type", value: "text/event-stream; charset=utf-8"),
                HTTPHeader(name: "Cache-Control", value: "no-cache"),
                // nginx buffers proxied answers unless told not to: events would wait for 4 KiB.
                HTTPHeader(name: "X-Accel-Buffering", value: "no"),
            ])
        }
        response.headers += cors
        response.stream = handler
        return response
    }

    /// The CORS headers for an allowed `Origin`; 403 for another; none without one (not a browser).
    static func corsHeaders(_ request: EndpointRequest, _ context: IngressContext) throws(APIError) -> [HTTPHeader] {
        guard let origin = request.header("origin") else { return [] }
        guard context.corsOrigins.contains(origin) else {
            throw .forbidden("origin \(origin.prefix(100)) may not open streams (TALLY_CORS_ORIGINS)")
        }
        return [HTTPHeader(name: "Access-Control-Allow-Origin", value: origin), HTTPHeader(name: "Vary", value: "Origin")]
    }
}

/// `OPTIONS /v1/stream`: the CORS preflight of a browser that sends the token as
/// `Authorization` (EventSource itself never preflights: it sends no such header).
struct StreamPreflightEndpoint: Endpoint {
    static let method = "OPTIONS"
    static let path = "/v1/stream"
    static let access = Access.open

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let cors = try StreamEndpoint.corsHeaders(request, context)
        return HTTPResponse(status: 204, headers: cors + [
            HTTPHeader(name: "Access-Control-Allow-Methods", value: "GET"),
            HTTPHeader(name: "Access-Control-Allow-Headers", value: "Authorization, Last-Event-ID"),
            HTTPHeader(name: "Access-Control-Max-Age", value: "600"),
        ])
    }
}
