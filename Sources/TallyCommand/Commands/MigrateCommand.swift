import Foundation
import Queue
import Support

struct MigrateCommand: Command {
    static let name = "migrate"
    static let summary = "Apply the SQL migrations in sql/ that are not applied yet"
    static let usage = ""
    static let details = """
        Applies each numbered file of sql/ (0001_jobs.sql, ...) once, in its own transaction,
        recorded in schema_migrations. Safe to run repeatedly and from several places at once
        (an advisory lock serialises runs). The migrations are compiled into the binary, so
        it needs nothing beside it; TALLY_SQL_DIR=FOLDER applies that folder's files instead.
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        _ = try args.expect([], command: name)
        let migrator = try Migrator.load(environment: context.environment)
        let connection = try context.connect()
        let report = try migrator.migrate(connection)
        if context.json {
            context.print(json: ["applied": .array(report.applied.map(JSON.string)), "already_applied": .int(report.alreadyApplied),
                                 "changed_since_applied": .array(report.changed.map(JSON.string))])
        } else {
            if report.applied.isEmpty {
                context.print("Nothing to apply: \(report.alreadyApplied) migrations already applied.")
            } else {
                for name in report.applied { context.print("applied \(name)") }
                context.print("\(report.applied.count) applied, \(report.alreadyApplied) already applied.")
            }
            for name in report.changed {
                Output.error("warning: \(name) changed after it was applied; changes are not re-applied, add a new migration instead")
            }
        }
        return 0
    }
}
