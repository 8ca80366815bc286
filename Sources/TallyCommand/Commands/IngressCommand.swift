import Enqueue
import Foundation
import Support

struct IngressCommand: Command {
    static let name = "ingress"
    static let summary = "Run the HTTP ingress: verify webhooks, validate app requests, enqueue, answer"
    static let usage = ""
    static let details = """
        Listens on TALLY_LISTEN (default 127.0.0.1:8080) until SIGTERM/SIGINT, then answers the
        requests in flight and exits 0. Connects as TALLY_INGRESS_DATABASE_URL (a role that is a
        member of tally_ingress: it can enqueue and read, never write the ledger), else DATABASE_URL.

        Settings (environment): STRIPE_WEBHOOK_SECRET and BITGO_WEBHOOK_SECRET (comma-separated
        for rotation; a webhook route without its secret answers 503), TALLY_INGRESS_THREADS
        (cores), TALLY_MAX_CONNECTIONS (4096), TALLY_REQUEST_TIMEOUT (10s), TALLY_IDLE_TIMEOUT (60s),
        TALLY_INGRESS_DB_POOL (4), TALLY_INGRESS_FLUSHES (2), TALLY_INGRESS_BATCH (256),
        TALLY_INGRESS_NOTIFY_WINDOW (1ms), TALLY_RATE_LIMIT (requests/s per API
        key; unset: off), TALLY_RATE_BURST (= the rate), TALLY_APIKEY_REFRESH (5s), TALLY_DB_STATEMENT_TIMEOUT (30s), TALLY_DB_LOCK_TIMEOUT (10s),
        TALLY_DB_IDLE_IN_TRANSACTION_TIMEOUT (60s), TALLY_DB_TCP_TIMEOUT (30s). See docs/ingress.md.
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let config: IngressConfig
        do { config = try IngressConfig.from(context.environment) } catch {
            throw CommandError.usage("\(error)")
        }
        let ingress: Ingress
        do { ingress = try Ingress(config: config) } catch {
            throw CommandError.failure("\(error)")
        }
        try await ServiceRunner.run([ingress])
        return 0
    }
}
