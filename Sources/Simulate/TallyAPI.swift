import Foundation
import Support

/// The simulation's only way into Tally besides the `tally` command: its HTTP API and signed
/// webhooks, sent the way a careful client sends them. A request whose answer is lost (a
/// connection refused or cut, a timeout, a 5xx, a 429) is sent again, unchanged, with its
/// idempotency key, until it gets a final answer or its deadline passes: the model then
/// applies it exactly once, which is what the contract promises such a client.
@MainActor
final class TallyAPI {
    struct Answer {
        let status: Int
        let json: JSON
        var jobID: Int64? { json["job_id"]?.int64 }
    }

    private let clients: [HTTPClient]
    private var next = 0
    /// Called while the simulation waits (between retries, while polling a job): faults due
    /// at a time (a SIGCONT, an ingress coming back) are carried out from here.
    var whileWaiting: () -> Void = {}
    /// Requests sent again after a lost answer.
    private(set) var resent = 0
    let requestDeadline: TimeInterval = 120

    init(baseURLs: [String], apiKey: String) {
        clients = baseURLs.map {
            HTTPClient(service: "tally-ingress", baseURL: URL(string: $0)!, headers: ["Authorization": "Bearer \(apiKey)"],
                       connectTimeout: 10, totalTimeout: 40)
        }
    }

    /// Statuses that are an answer (the request was decided); the others mean "send again".
    static func isFinal(_ status: Int) -> Bool { status < 500 && status != 429 && status != 408 }

    /// POSTs `body` until a final answer; nil after the deadline.
    func post(_ path: String, _ body: JSON, wait: Int? = nil, key: String) async -> Answer? {
        var headers = ["Content-Type": "application/json"]
        if let wait { headers["Prefer"] = "wait=\(wait)" }
        return await send("POST", path, body: Array(body.serialized.utf8), headers: headers, key: key)
    }

    /// A signed webhook: the raw bytes as signed, with the signature header.
    func webhook(_ path: String, raw: [UInt8], signature: (name: String, value: String)) async -> Answer? {
        await send("POST", path, body: raw, headers: ["Content-Type": "application/json", signature.name: signature.value],
                   key: "webhook")
    }

    func get(_ path: String) async -> Answer? { await send("GET", path, body: nil, headers: [:], key: nil) }

    /// Waits until job `id` has finished (completed, discarded or cancelled) and answers it
    /// (`{id, kind, state, attempt, result, errors}`); nil at the deadline.
    func finishedJob(_ id: Int64, timeout: TimeInterval = 120) async -> JSON? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let a = await get("/v1/jobs/\(id)"), a.status == 200,
               let state = a.json["state"]?.string, ["completed", "discarded", "cancelled"].contains(state) {
                return a.json
            }
            whileWaiting()
            try? await Task.sleep(for: .milliseconds(15))  // poll interval until the deadline
        }
        return nil
    }

    private func send(_ method: String, _ path: String, body: [UInt8]?, headers: [String: String], key: String?) async -> Answer? {
        let deadline = Date().addingTimeInterval(requestDeadline)
        var attempt = 0
        while Date() < deadline {
            // Round robin over the ingresses: a retry goes to the next one, as behind a load balancer.
            let client = clients[next % clients.count]
            next += 1
            attempt += 1
            if attempt > 1 { resent += 1 }
            if let r = try? await client.exchange(method: method, path: path, body: body, headers: headers, idempotencyKey: key),
               Self.isFinal(r.status) {
                return Answer(status: r.status, json: (try? JSON.parse(r.body)) ?? .null)
            }
            whileWaiting()
            // A client's retry pause (pacing), not a wait for something to happen.
            try? await Task.sleep(for: .milliseconds(attempt < 5 ? 20 : 200))
        }
        return nil
    }
}
