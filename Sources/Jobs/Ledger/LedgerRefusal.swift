import Support

/// A ledger job that refuses changes nothing and completes with `{"error": code, …}` as its
/// result (a refusal is an answer, not a failure to retry). The codes are the contract's
/// (DESIGN.md); the ingress answers a waiting request with the status of each
/// (`IngressContext.outcomeResponse`), the command with its message.
public enum LedgerRefusal: String, Sendable, CaseIterable {
    /// The balance does not cover the debit (`balance`, `required`).
    case insufficientCredits = "insufficient_credits"
    /// No account for the user.
    case accountNotFound = "account_not_found"
    /// No price for the agent.
    case unknownAgent = "unknown_agent"
    /// units × price does not fit one charge (`units`, `credits_per_unit`, `max_units`).
    case invalidUnits = "invalid_units"
    /// A capture of more than the hold holds (`held`).
    case captureExceedsHold = "capture_exceeds_hold"
    /// No hold with that id.
    case holdNotFound = "hold_not_found"
    /// No transfer with that id.
    case transferNotFound = "transfer_not_found"

    /// The job's result for this refusal, with its details.
    public func result(_ details: [String: JSON] = [:]) -> JSON {
        var out = details
        out["error"] = .string(rawValue)
        return .object(out)
    }

    /// The refusal a job's result records, if it is one.
    public init?(result: JSON?) {
        guard let code = result?["error"]?.string, let refusal = LedgerRefusal(rawValue: code) else { return nil }
        self = refusal
    }
}
