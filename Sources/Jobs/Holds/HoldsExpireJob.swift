import Foundation
import JobRuntime
import Postgres
import Support

/// `holds.expire {}` (every minute by cron): voids holds past their expiry, 500 per
/// transaction until none is left (`Holds.expireDue`). Result: `{"expired": N}`.
public struct HoldsExpireJob: Job {
    public struct Args: Codable, Sendable {
        public let as_of: String?
    }

    public static let kind = "holds.expire"
    public static let queue = "maintenance"
    static let batch = 500

    public init() {}

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        var total = 0
        while true {
            let n = try await context.pool.transaction { tx in try Holds.expireDue(limit: Self.batch, on: tx) }
            total += n
            if n < Self.batch { break }
        }
        return .completed(["expired": .int(Int64(total))])
    }
}
