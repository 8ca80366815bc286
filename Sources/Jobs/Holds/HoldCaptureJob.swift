import Foundation
import JobRuntime
import Postgres
import Support

/// `hold.capture {"hold_id", "credits"? | "units"?, "idempotency_key"}` (POST
/// /v1/holds/{id}/capture): charges what the work cost, at most what is held (nothing given:
/// all of it), and gives the rest back at once (`Holds.capture`). Always `completed`: the hold
/// in its final state, or `capture_exceeds_hold` / `hold_not_found`. A `BatchJob`: captures
/// claimed together end their holds in one transaction (`Holds+Batch.swift`).
public struct HoldCaptureJob: BatchJob {
    public struct Args: Codable, Sendable {
        public let hold_id: String
        public let credits: Int64?
        public let units: Int64?
        public let idempotency_key: String

        public init(hold_id: String, credits: Int64? = nil, units: Int64? = nil, idempotency_key: String) {
            self.hold_id = hold_id
            self.credits = credits
            self.units = units
            self.idempotency_key = idempotency_key
        }
    }

    public static let kind = "hold.capture"
    /// A claim's worth (TALLY_CLAIM_BATCH, 1,000), as usage's: one batch of the kind per
    /// claim, so a claim's holds never wait on each other's account locks (hold/capture pairs: 2,292–2,332/s
    /// against 2,077–2,283 with 500; on one account 2,090–2,108 against 1,764–1,914).
    public static let batchLimit = 1000

    public init() {}

    public func run(_ args: Args, context: JobContext) async throws -> JobResult {
        let request = try Self.ending(args)
        do {
            return try await context.completeInTransaction { tx in try Holds.end([request], mayDefer: false, on: tx)[0].json() }
        } catch let error as LedgerError {
            throw JobError.permanent(error.description)
        }
    }

    public func runBatch(_ jobs: [BatchItem<Args>], on tx: Connection, context: BatchContext) throws -> [BatchOutcome] {
        try LedgerAnswer.outcomes(jobs, request: Self.ending) { try Holds.end($0, mayDefer: context.mayDefer, on: tx) }
    }

    /// The args checked: which hold, and what to charge of it (nil: all).
    static func ending(_ args: Args) throws -> Holds.Ending {
        try HoldArgs.check(args.hold_id)
        switch (args.credits, args.units) {
        case (nil, nil): return Holds.Ending(id: args.hold_id, amount: nil)
        case (let c?, nil):
            guard c >= 0, c <= Ledger.maxCredits else { throw JobError.permanent("credits must be 0 to \(Ledger.maxCreditsText)") }
            return Holds.Ending(id: args.hold_id, amount: .credits(c))
        case (nil, let u?):
            guard u >= 0 else { throw JobError.permanent("units must be 0 or more") }
            return Holds.Ending(id: args.hold_id, amount: .units(agent: "", units: u))
        default: throw JobError.permanent("credits or units, not both")
        }
    }
}
