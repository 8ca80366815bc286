import Foundation
import JobRuntime
import Postgres
import Queue
import Support

/// `notify.read {"user_id", "ids": [Int64]}` (POST /v1/accounts/{user_id}/notifications/read):
/// marks those of the user's notifications read. Ids of other users' notifications, unknown
/// ids and ones already read are left alone. Result: `{"user_id", "marked": N}`.
public struct NotifyReadJob: Job {
    public struct Args: Codable, Sendable {
        public let user_id: String
        public let ids: [Int64]

        public init(user_id: String, ids: [Int64]) {
            self.user_id = user_id
            self.ids = ids
        }
    }

    public static let kind = "notify.read"
    public static let queue = "notify"
    static let maxIDs = 1000

    public init() {}

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        guard !args.user_id.isEmpty, args.user_id.utf8.count <= 256 else { throw JobError.permanent("user_id must be 1 to 256 bytes") }
        guard args.ids.count <= Self.maxIDs else { throw JobError.permanent("at most \(Self.maxIDs) ids at once, got \(args.ids.count)") }
        return try await context.completeInTransaction { tx in try Self.markRead(args, on: tx) }
    }

    static func markRead(_ args: Args, on tx: Connection) throws -> JSON {
        let marked = args.ids.isEmpty ? 0 : try tx.query(NotifyQueries.markRead, [args.user_id, args.ids]).affected
        return ["user_id": .string(args.user_id), "marked": .int(marked)]
    }
}
