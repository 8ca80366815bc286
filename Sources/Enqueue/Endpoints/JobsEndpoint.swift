import HTTPServer
import Queue
import Support

/// `GET /v1/jobs/{id}` → `{id, kind, state, attempt, result, errors}`.
struct ShowJobEndpoint: Endpoint {
    static let method = "GET"
    static let path = "/v1/jobs/{id}"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let text = request.parameter("id")
        guard let id = Int64(text), id > 0 else { throw .notFound("no job \(text.prefix(40)): job ids are positive integers") }
        guard let job = try await context.readJob(id, fromReplica: true) else { throw .notFound("no job \(id)") }
        return .json(200, [
            "id": .int(job.id), "kind": .string(job.kind), "state": .string(job.state.rawValue), "attempt": .int(job.attempt),
            "result": job.result ?? .null, "errors": IngressContext.jobErrors(job),
        ])
    }
}
