import Jobs

extension Arguments {
    /// A whole number of credits typed by an operator: `minimum` (0 or 1) up to
    /// `Ledger.maxCredits` (10^12), else a usage error naming `what` and the range (exit 2).
    static func credits(_ text: String, _ what: String, minimum: Int64) throws -> Int64 {
        guard let n = Int64(text), n >= minimum, n <= Ledger.maxCredits else {
            throw CommandError.usage("\(what) must be a whole number of credits from \(minimum) to \(Ledger.maxCreditsText), got \"\(text.prefix(40))\"")
        }
        return n
    }
}
