import Foundation
import JobRuntime
import Postgres
import Support

/// `transfer.release {"transfer_id", "actor"?}`: the recipient gets an escrow's credits.
public struct TransferReleaseJob: Job {
    public struct Args: Codable, Sendable {
        public let transfer_id: String
        public let actor: String?
        public init(transfer_id: String, actor: String? = nil) {
            self.transfer_id = transfer_id
            self.actor = actor
        }
    }

    public static let kind = "transfer.release"

    public init() {}

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        try await TransferArgs.end(args.transfer_id, release: true, context: context)
    }
}

/// `transfer.refund {"transfer_id", "actor"?}`: the sender gets an escrow's credits back.
public struct TransferRefundJob: Job {
    public typealias Args = TransferReleaseJob.Args

    public static let kind = "transfer.refund"

    public init() {}

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        try await TransferArgs.end(args.transfer_id, release: false, context: context)
    }
}

/// `transfers.expire {}` (every minute by cron): refunds escrows past their expiry, one per
/// transaction (each locks two accounts; one at a time keeps the lock order whole).
public struct TransfersExpireJob: Job {
    public struct Args: Codable, Sendable {
        public let as_of: String?
    }

    public static let kind = "transfers.expire"
    public static let queue = "maintenance"
    static let most = 10_000

    public init() {}

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        var total = 0
        while total < Self.most {
            let n = try await context.pool.transaction { tx in try Transfers.expireDue(limit: 1, on: tx) }
            if n == 0 { break }
            total += n
        }
        return .completed(["refunded": .int(Int64(total))])
    }
}

extension TransferArgs {
    static func end(_ id: String, release: Bool, context: JobContext) async throws -> JobResult {
        try check(id)
        do {
            return try await context.completeInTransaction { tx in try Transfers.end(id: id, release: release, on: tx) }
        } catch let error as LedgerError {
            throw JobError.permanent(error.description)
        }
    }
}
