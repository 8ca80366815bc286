import Foundation
import JobRuntime
import Postgres
import Support

/// `hold.create {"hold_id", "user_id", "credits" | ("agent", "units"), "expires_in"?}`
/// (POST /v1/holds): reserves the credits (`Holds.create`). Always `completed`: the result is the
/// hold (`{hold_id, user_id, status: "held", held, captured, expires_at, balance}`) or a refusal
/// like usage's (`insufficient_credits`, `account_not_found`, `unknown_agent`, `invalid_units`).
/// A `BatchJob`: holds claimed together are made in one transaction (`Holds+Batch.swift`).
public struct HoldCreateJob: BatchJob {
    public struct Args: Codable, Sendable {
        public let hold_id: String
        public let user_id: String
        public let credits: Int64?
        public let agent: String?
        public let units: Int64?
        public let expires_in: Int64?

        public init(hold_id: String, user_id: String, credits: Int64? = nil, agent: String? = nil, units: Int64? = nil, expires_in: Int64? = nil) {
            self.hold_id = hold_id
            self.user_id = user_id
            self.credits = credits
            self.agent = agent
            self.units = units
            self.expires_in = expires_in
        }
    }

    public static let kind = "hold.create"
    /// A claim's worth (TALLY_CLAIM_BATCH, 1,000), as usage's: one batch of the kind per
    /// claim, so a claim's holds never wait on each other's account locks (hold/capture pairs: 2,292–2,332/s
    /// against 2,077–2,283 with 500; on one account 2,090–2,108 against 1,764–1,914).
    public static let batchLimit = 1000

    public init() {}

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let request = try Self.reservation(args)
        do {
            return try await context.completeInTransaction { tx in try Holds.create([request], mayDefer: false, on: tx)[0].json() }
        } catch let error as LedgerError {
            throw JobError.permanent(error.description)
        }
    }

    public func runBatch(_ jobs: [BatchItem<Args>], on tx: Connection, context: BatchContext) throws -> [BatchOutcome] {
        try LedgerAnswer.outcomes(jobs, request: Self.reservation) { try Holds.create($0, mayDefer: context.mayDefer, on: tx) }
    }

    /// The args checked: what the hold reserves and for how long.
    static func reservation(_ args: Args) throws -> Holds.Reservation {
        let amount = try amount(args)
        guard Ledger.isValidUserID(args.user_id) else { throw JobError.permanent("user_id must be 1 to 256 bytes") }
        try HoldArgs.check(args.hold_id)
        let expiresIn = args.expires_in ?? Holds.defaultExpiry
        guard (1...Holds.maxExpiry).contains(expiresIn) else { throw JobError.permanent("expires_in must be 1 to \(Holds.maxExpiry) seconds") }
        return Holds.Reservation(id: args.hold_id, userID: args.user_id, amount: amount, expiresIn: expiresIn)
    }

    /// Credits, or units of an agent: exactly one of the two.
    static func amount(_ a: Args) throws -> Holds.Amount {
        switch (a.credits, a.agent, a.units) {
        case (let c?, nil, nil):
            guard c > 0, c <= Ledger.maxCredits else { throw JobError.permanent("credits must be 1 to \(Ledger.maxCreditsText)") }
            return .credits(c)
        case (nil, let agent?, let units?):
            guard units > 0, !agent.isEmpty, agent.utf8.count <= 128 else { throw JobError.permanent("agent and positive units, or credits") }
            return .units(agent: agent, units: units)
        default:
            throw JobError.permanent("a hold takes credits, or agent and units")
        }
    }
}

/// What the hold jobs share about their args.
enum HoldArgs {
    static func isValidID(_ id: String) -> Bool { PrefixedID.isValid(id, prefix: "hold_") }

    static func check(_ id: String) throws {
        guard isValidID(id) else { throw JobError.permanent("hold_id must be hold_ and 24 hex digits") }
    }
}
