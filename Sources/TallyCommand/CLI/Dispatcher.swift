import Foundation
import Postgres
import Queue
import Support

/// Finds the command named by the first words, parses its arguments and runs it.
enum Dispatcher {
    /// On the main actor (where main.swift's top-level code runs): a nonisolated async function
    /// would run the command on Swift's cooperative pool, where blocking libpq calls stall it.
    @MainActor
    static func main(_ argv: [String], environment: Environment = Environment()) async -> Int32 {
        if argv.isEmpty || argv == ["--help"] || argv == ["-h"] || argv == ["help"] {
            Output.line(overview())
            return argv.isEmpty ? 2 : 0
        }
        if argv.first == "help" { return await main(Array(argv.dropFirst()) + ["--help"], environment: environment) }
        guard let (command, words) = find(argv) else {
            let group = argv[0]
            let sub = commands.filter { $0.name.hasPrefix(group + " ") }.map { "tally " + $0.name }
            if !sub.isEmpty, argv.count == 1 || argv.dropFirst().allSatisfy({ $0.hasPrefix("--") }) {
                if argv.contains("--help") {
                    Output.line("Commands under '\(group)':\n" + sub.map { "  " + $0 }.joined(separator: "\n"))
                    return 0
                }
                Output.error("tally \(group): say which: \(sub.joined(separator: ", "))")
                return 2
            }
            let unknown = argv.prefix { !$0.hasPrefix("-") }.joined(separator: " ")
            Output.error("tally: unknown command '\(unknown.isEmpty ? argv[0] : unknown)' (tally --help lists the commands)")
            return 2
        }
        do {
            let args = try Arguments(words, options: command.allOptions, flags: command.flags, command: command.name)
            if args.flag("help") {
                Output.line(command.helpText)
                return 0
            }
            if command.needsDatabase && environment["DATABASE_URL"] == nil {
                throw CommandError.usage("DATABASE_URL is not set; every command needs it (e.g. postgresql://user@localhost/tally)")
            }
            var context = CommandContext(environment: environment, json: args.flag("json"),
                                         operatorAction: command.audited ? try OperatorAction(command.name, args, environment) : nil)
            if command.needsDatabase {
                // A bad value stops every command before it connects (exit 2, naming the setting).
                do { context.limits = try SessionLimits(environment: environment) } catch {
                    throw CommandError.usage("\(error)")
                }
            }
            return try await command.run(args, context)
        } catch let error as CommandError {
            Output.error("tally \(command.name): \(error.description)")
            return error.exitCode
        } catch let error as QueueError {
            Output.error("tally \(command.name): \(error.description)")
            if case .invalid = error { return 2 }
            return 1
        } catch {
            Output.error("tally \(command.name): \(error)")
            return 1
        }
    }

    /// The longest run of leading words that names a command.
    static func find(_ argv: [String]) -> (any Command.Type, [String])? {
        for count in stride(from: min(argv.count, 3), through: 1, by: -1) {
            let name = argv.prefix(count).joined(separator: " ")
            if let c = commands.first(where: { $0.name == name }) { return (c, Array(argv.dropFirst(count))) }
        }
        return nil
    }

    static func overview() -> String {
        var text = """
            tally: a credits wallet on a PostgreSQL job queue.

            Usage: tally COMMAND [ARGS] [--json] [--help]

            Commands:

            """
        let width = commands.map { c in c.name.count }.max() ?? 0
        for c in commands {
            text += "  " + c.name + String(repeating: " ", count: width - c.name.count) + "  " + c.summary + "\n"
        }
        text += """

            Every command needs DATABASE_URL. Exit codes: 0 ok; 1 the operation failed or what it
            names does not exist; 2 bad usage. `tally COMMAND --help` tells more.
            """
        return text
    }

    /// Every command, in the order `tally --help` lists them.
    static let commands: [any Command.Type] = [
        MigrateCommand.self,
        WorkerCommand.self,
        IngressCommand.self,
        ConsoleCommand.self,
        EnqueueCommand.self,
        JobsListCommand.self,
        JobsShowCommand.self,
        JobsRetryCommand.self,
        JobsCancelCommand.self,
        JobsStatsCommand.self,
        QueuesListCommand.self,
        QueuesPauseCommand.self,
        QueuesResumeCommand.self,
        WorkersCommand.self,
        AccountsShowCommand.self,
        LedgerVerifyCommand.self,
        LedgerStatsCommand.self,
        AuditListCommand.self,
        StreamTokensRevokeAllCommand.self,
        TransfersListCommand.self,
        TransfersShowCommand.self,
        TransfersReleaseCommand.self,
        TransfersRefundCommand.self,
        GrantCommand.self,
        DebitCommand.self,
        AgentsListCommand.self,
        AgentsSetCommand.self,
        ProductsListCommand.self,
        ProductsSetCommand.self,
        PurchasesListCommand.self,
        PurchasesShowCommand.self,
        PurchasesConfirmCommand.self,
        RewardsListCommand.self,
        RewardsSetCommand.self,
        ReferralsCreateCommand.self,
        EndpointsAddCommand.self,
        EndpointsListCommand.self,
        EndpointsEnableCommand.self,
        EndpointsDisableCommand.self,
        EndpointsRemoveCommand.self,
        APIKeyCreateCommand.self,
        APIKeyListCommand.self,
        APIKeyRevokeCommand.self,
        OperatorsCreateCommand.self,
        OperatorsListCommand.self,
        OperatorsRevokeCommand.self,
    ]
}
