import Foundation
import JobRuntime
import Postgres
import Support

/// `transfer.create {"transfer_id", "from_user_id", "to_user_id", "credits", "escrow"?,
/// "expires_in"?, "memo"?}` (POST /v1/transfers): moves credits between users at once, or into
/// escrow (`Transfers.create`). Always `completed`: the transfer and the sender's `balance`, or
/// `insufficient_credits` / `account_not_found` (with `side`). A `BatchJob`: transfers claimed
/// together are made in one transaction (`Transfers+Batch.swift`).
public struct TransferCreateJob: BatchJob {
    public struct Args: Codable, Sendable {
        public let transfer_id: String
        public let from_user_id: String
        public let to_user_id: String
        public let credits: Int64
        public let escrow: Bool?
        public let expires_in: Int64?
        public let memo: String?

        public init(transfer_id: String, from_user_id: String, to_user_id: String, credits: Int64, escrow: Bool? = nil,
                    expires_in: Int64? = nil, memo: String? = nil) {
            self.transfer_id = transfer_id
            self.from_user_id = from_user_id
            self.to_user_id = to_user_id
            self.credits = credits
            self.escrow = escrow
            self.expires_in = expires_in
            self.memo = memo
        }
    }

    public static let kind = "transfer.create"

    let settings: LedgerSettings

    public init(settings: LedgerSettings = .defaults) {
        self.settings = settings
    }

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let request = try Self.request(args)
        let promotional = settings.transferPromotional
        do {
            return try await context.completeInTransaction { tx in
                try Transfers.create([request], promotional: promotional, mayDefer: false, on: tx)[0].json()
            }
        } catch let error as LedgerError {
            throw JobError.permanent(error.description)
        }
    }

    public func runBatch(_ jobs: [BatchItem<Args>], on tx: Connection, context: BatchContext) throws -> [BatchOutcome] {
        try LedgerAnswer.outcomes(jobs, request: Self.request) {
            try Transfers.create($0, promotional: settings.transferPromotional, mayDefer: context.mayDefer, on: tx)
        }
    }

    /// The args checked.
    static func request(_ a: Args) throws -> Transfers.Request {
        try TransferArgs.check(a.transfer_id)
        guard Ledger.isValidUserID(a.from_user_id), Ledger.isValidUserID(a.to_user_id) else { throw JobError.permanent("user ids must be 1 to 256 bytes") }
        guard a.from_user_id != a.to_user_id else { throw JobError.permanent("a transfer needs two users") }
        guard a.credits > 0, a.credits <= Ledger.maxCredits else { throw JobError.permanent("credits must be 1 to \(Ledger.maxCreditsText)") }
        guard (a.memo?.utf8.count ?? 0) <= 500 else { throw JobError.permanent("memo must be at most 500 bytes") }
        var escrowFor: Int64?
        if a.escrow == true {
            let s = a.expires_in ?? Transfers.defaultEscrowExpiry
            guard (1...Transfers.maxEscrowExpiry).contains(s) else { throw JobError.permanent("expires_in must be 1 to \(Transfers.maxEscrowExpiry) seconds") }
            escrowFor = s
        } else if a.expires_in != nil {
            throw JobError.permanent("expires_in goes with escrow")
        }
        return Transfers.Request(id: a.transfer_id, from: a.from_user_id, to: a.to_user_id, credits: a.credits, escrowFor: escrowFor, memo: a.memo)
    }
}

/// What the transfer jobs share about their args.
enum TransferArgs {
    static func isValidID(_ id: String) -> Bool { PrefixedID.isValid(id, prefix: "transfer_") }

    static func check(_ id: String) throws {
        guard isValidID(id) else { throw JobError.permanent("transfer_id must be transfer_ and 24 hex digits") }
    }
}
