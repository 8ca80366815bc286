import Foundation
import Support

/// The ledger's settings (docs/ledger.md, "Configuration"), read once when the registry is
/// built: a bad value stops the worker at start, naming the setting, instead of failing jobs.
public struct LedgerSettings: Sendable, Equatable {
    /// `TALLY_TRIAL_CREDITS`: the signup trial (0: none).
    public var trialCredits: Int64
    /// `TALLY_TRIAL_DURATION`: how long the trial lasts.
    public var trialDuration: TimeInterval
    /// `TALLY_EXPIRE_BATCH`: due accounts per `credits.expire` batch job.
    public var expireBatch: Int
    /// `TALLY_ROLLOVER_CAP`: the most credits a month rolls over; nil: the `monthly` product's
    /// credits, else 250.
    public var rolloverCap: Int64?
    /// `TALLY_ROLLOVER_BATCH`: due accounts per `credits.rollover` batch job.
    public var rolloverBatch: Int
    /// `TALLY_TRANSFER_PROMOTIONAL=on`: trial, reward, streak and referral credits may be
    /// transferred too (off: only credits bought or granted by operators).
    public var transferPromotional: Bool
    /// `TALLY_LOW_BALANCE`: the balance below which `balance_low` is written (accounts may set
    /// their own with `PUT /v1/accounts/{user_id}/alerts`).
    public var lowBalance: Int64

    /// Every setting at its default (no environment).
    public static let defaults = try! LedgerSettings(Environment([:]))  // no setting given: nothing to refuse

    public init(_ environment: Environment) throws {
        trialCredits = Int64(try environment.checkedInt("TALLY_TRIAL_CREDITS", default: 5, in: 0...1_000_000_000))
        trialDuration = try environment.checkedDuration("TALLY_TRIAL_DURATION", default: 14 * 86400, minimum: 1)
        expireBatch = try environment.checkedInt("TALLY_EXPIRE_BATCH", default: 1000, in: 1...100_000)
        rolloverCap = try environment.checkedInt("TALLY_ROLLOVER_CAP", in: 0...Int(Int32.max)).map(Int64.init)
        rolloverBatch = try environment.checkedInt("TALLY_ROLLOVER_BATCH", default: 1000, in: 1...100_000)
        transferPromotional = try environment.checkedSwitch("TALLY_TRANSFER_PROMOTIONAL", default: false)
        lowBalance = Int64(try environment.checkedInt("TALLY_LOW_BALANCE", default: 10, in: 0...1_000_000_000_000))
    }
}
