/// Why the ledger refused an operation. Refusals that are outcomes (not enough credits) are
/// values (`DebitOutcome`), not errors.
public enum LedgerError: Error, CustomStringConvertible, Sendable, Equatable {
    case accountNotFound(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .accountNotFound(let user): "no account for user \(user)"
        case .invalid(let message): message
        }
    }
}
