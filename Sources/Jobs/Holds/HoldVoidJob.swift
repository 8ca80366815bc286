import Foundation
import JobRuntime
import Postgres
import Support

/// `hold.void {"hold_id"}` (POST /v1/holds/{id}/void): gives every held credit back
/// (`Holds.void`). Always `completed`: the hold in its final state, or `hold_not_found`.
public struct HoldVoidJob: Job {
    public struct Args: Codable, Sendable {
        public let hold_id: String

        public init(hold_id: String) { self.hold_id = hold_id }
    }

    public static let kind = "hold.void"

    public init() {}

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        try HoldArgs.check(args.hold_id)
        do {
            return try await context.completeInTransaction { tx in try Holds.void(id: args.hold_id, on: tx) }
        } catch let error as LedgerError {
            throw JobError.permanent(error.description)
        }
    }
}
