import Foundation
import Jobs
import Postgres
import Support

struct EndpointsAddCommand: Command {
    static let name = "endpoints add"
    static let summary = "Register an endpoint that receives every notification, signed; prints its secret once"
    static let usage = "URL"
    static let audited = true
    static let details = """
        Every notification written from now on is POSTed to URL (one notify.deliver job per
        endpoint) with Tally-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the
        secret>. The secret is printed once, alone on its own line: store it where the receiver
        can read it. docs/rewards-and-notifications.md shows how to verify a signature.
        A host that is or resolves to a loopback, private, link-local or cloud-metadata address
        is refused (exit 1), unless TALLY_ENDPOINTS_ALLOW_PRIVATE=on (development, tests).
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let url = try args.expect(["URL"], command: name)[0]
        guard url.utf8.count <= 2048, let c = URLComponents(string: url), c.scheme == "http" || c.scheme == "https",
              let host = c.host, !host.isEmpty else {
            throw CommandError.usage("URL must be an http:// or https:// URL with a host, at most 2048 bytes (got \"\(url)\")")
        }
        let allowPrivate: Bool
        do { allowPrivate = try NotifySettings.allowPrivate(context.environment) } catch { throw CommandError.usage("\(error)") }
        if !allowPrivate {
            do { try await OutboundAddress.check(host: host) } catch {
                throw CommandError.failure("refused: \(error)")
            }
        }
        let secret = TimestampedSignature.newSecret()
        let connection = try context.connect()
        let (row, id) = try connection.transaction { tx in
            guard let row = try tx.query(NotifyQueries.addEndpoint, [url, secret]).first else { throw CommandError.failure("the endpoint was not stored") }
            let id = try row.int64("id")
            try context.audit(target: "endpoint:\(id)", details: ["url": .string(url)], on: tx)
            return (row, id)
        }
        if context.json {
            context.print(json: ["id": .int(id), "url": .string(url), "enabled": true, "secret": .string(secret),
                                 "created_at": .string(Timestamp.iso8601(try row.date("created_at")))])
        } else {
            context.print("endpoint \(id) added: \(url)\nits signing secret, shown this once (Tally-Signature is keyed with it):")
            context.print(secret)
        }
        return 0
    }
}
