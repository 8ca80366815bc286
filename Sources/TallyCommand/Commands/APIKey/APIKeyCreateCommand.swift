import Enqueue
import Foundation
import Postgres
import Support

struct APIKeyCreateCommand: Command {
    static let name = "apikey create"
    static let summary = "Make an API key for an app; it is printed once and stored only hashed"
    static let usage = "NAME [--scope all|read]"
    static let options: Set<String> = ["scope"]
    static let audited = true
    static let details = """
        Prints the key alone on its own line (with --json: {"id", "name", "key", ...}). Keep it:
        it cannot be shown again. Apps send it as `Authorization: Bearer <key>`.
        --scope read: the key may call every GET and nothing else (403 forbidden); the default,
        all, may do everything an app does.
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let name = try args.expect(["NAME"], command: self.name)[0]
        guard !name.isEmpty, name.count <= 200 else { throw CommandError.usage("NAME must be 1 to 200 characters") }
        let scopeText = args.option("scope") ?? APIKeyScope.all.rawValue
        guard let scope = APIKeyScope(rawValue: scopeText) else {
            throw CommandError.usage("--scope must be all or read, got \"\(scopeText)\"")
        }
        let key = APIKey.generate()
        let connection = try context.connect()
        let id = try connection.transaction { tx in
            guard let row = try tx.query(IngressQueries.createAPIKey, [name, APIKey.hash(key), APIKey.displayPrefix(key), scope.rawValue]).first else {
                throw CommandError.failure("the key was not stored")
            }
            let id = try row.int64("id")
            try context.audit(target: "apikey:\(id)", details: ["name": .string(name), "scope": .string(scope.rawValue),
                                                              "prefix": .string(APIKey.displayPrefix(key))], on: tx)
            return id
        }
        if context.json {
            context.print(json: ["id": .int(id), "name": .string(name), "key": .string(key), "prefix": .string(APIKey.displayPrefix(key)),
                                "scope": .string(scope.rawValue)])
        } else {
            Output.error("API key \(id) (\(name), scope \(scope.rawValue)) created; it is shown once, on the next line:")
            context.print(key)
        }
        return 0
    }
}
