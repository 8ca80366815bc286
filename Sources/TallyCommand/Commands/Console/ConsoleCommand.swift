import Console
import Foundation
import Support

struct ConsoleCommand: Command {
    static let name = "console"
    static let summary = "Run the operator console: web pages for jobs, queues, accounts, purchases and the audit log"
    static let usage = ""
    static let details = """
        Listens on TALLY_CONSOLE_LISTEN (default 127.0.0.1:8081) until SIGTERM/SIGINT. Operators
        sign in with a token from `tally operators create NAME`; every action is audited under
        their name. Its own process: an operator page never shares an event loop with app traffic.

        Settings (environment): TALLY_CONSOLE_SECURE_COOKIES=on (cookies marked Secure, behind
        TLS), TALLY_CONSOLE_SESSION_TTL (12h), TALLY_CONSOLE_THREADS (2), TALLY_CONSOLE_DB_POOL (4),
        and the TALLY_DB_* session limits.
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let config: ConsoleConfig
        do { config = try ConsoleConfig.from(context.environment) } catch { throw CommandError.usage("\(error)") }
        let console: Console
        do { console = try Console(config: config) } catch { throw CommandError.failure("\(error)") }
        try await ServiceRunner.run([console])
        return 0
    }
}
