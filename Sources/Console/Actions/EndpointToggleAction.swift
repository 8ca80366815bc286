import HTTPServer
import Jobs
import Postgres

/// `POST /endpoints/{id}/disable` (and, through `EndpointEnableAction`, `/enable`): the
/// statements `tally endpoints disable|enable` run, audited the same way.
struct EndpointToggleAction: ConsoleRoute {
    static let method = "POST"
    static let path = "/endpoints/{id}/disable"
    var enable = false

    func handle(_ request: ConsoleRequest, _ context: ConsoleContext) async throws -> HTTPResponse {
        guard let id = Int64(request.parameters["id"] ?? ""), id > 0 else { throw ConsoleError.notFound("no such endpoint") }
        let enable = self.enable
        let actor = request.operatorSession.name
        let url = try await context.act(request, action: enable ? "endpoints.enable" : "endpoints.disable", target: "endpoint:\(id)") { tx in
            let row = enable ? try tx.query(NotifyQueries.enableEndpoint, [id]).first
                             : try tx.query(NotifyQueries.disableEndpoint, [id, "disabled by \(actor)"]).first
            guard let row else { throw ConsoleError.notFound("no endpoint \(id)") }
            let url = try row.string("url")
            return (url, ["url": .string(url)])
        }
        return .seeOther(Layout.withNotice("/endpoints", "Endpoint \(id) \(enable ? "enabled" : "disabled"): \(url)"))
    }
}
